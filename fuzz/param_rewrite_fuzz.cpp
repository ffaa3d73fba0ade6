// libFuzzer target: any bytes as a dataset's query, with as many text parameters as its highest $n. The
// placeholders found are "$" and digits, in order, apart; binding replaces every one of them, and the
// values (hostile on purpose) add none: what is left has no placeholder at all.
#include "engine/dataset_params.hpp"

#include <algorithm>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pg2s3::engine;
  Dataset dataset;
  dataset.name = "fuzzed";
  dataset.query.assign(reinterpret_cast<const char*>(data), size);
  const auto placeholders = find_placeholders(dataset.query);
  std::size_t end = 0;
  int highest = 0;
  for (const auto& placeholder : placeholders) {
    if (placeholder.offset < end || placeholder.length < 2 || placeholder.offset + placeholder.length > size) std::abort();
    if (dataset.query[placeholder.offset] != '$') std::abort();
    for (std::size_t i = placeholder.offset + 1; i < placeholder.offset + placeholder.length; ++i)
      if (dataset.query[i] < '0' || dataset.query[i] > '9') std::abort();
    end = placeholder.offset + placeholder.length;
    highest = std::max(highest, placeholder.number);
  }
  if (highest > 64) return 0;
  ParamValues values;
  for (int i = 1; i <= highest; ++i) {
    dataset.params.push_back({"p" + std::to_string(i), "text", false, std::nullopt});
    values["p" + std::to_string(i)] = i % 3 == 0 ? std::nullopt : std::optional<std::string>("'); DROP TABLE t; -- $1 $$");
  }
  auto bound = bind_params(dataset, values);
  if (std::ranges::any_of(placeholders, [](const auto& placeholder) { return placeholder.number < 1; })) {
    if (bound) std::abort();  // a $0 has no parameter
    return 0;
  }
  if (!bound || !find_placeholders(bound->query).empty()) std::abort();
  return 0;
}
