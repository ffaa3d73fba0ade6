// A column chunk's dictionary: its distinct values one after another as PLAIN encodes them (the dictionary
// page's body), found again by their bytes through an open-addressing hash index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::parquet::detail {

class Dictionary {
 public:
  // `length_prefixed`: the values are byte arrays, which PLAIN writes after their 4-byte length.
  explicit Dictionary(bool length_prefixed);

  // The index of the value whose bytes are `key` (without a length), added if it is new, unless adding
  // it would take memory_bytes() past `budget`: then nothing.
  std::optional<std::uint32_t> find_or_add(std::string_view key, std::size_t budget);

  std::size_t size() const { return starts_.size(); }
  // The most memory it holds: its values (whose buffer may have doubled), where each starts, the index.
  std::size_t memory_bytes() const;
  std::string_view plain() const { return values_; }
  std::string_view plain_entry(std::uint32_t index) const;  // one value as PLAIN writes it

 private:
  struct Slot {
    std::uint32_t hash = 0;  // the upper half of the key's hash: where the slot lies, and a quick test
    std::uint32_t index = empty;
  };
  static constexpr std::uint32_t empty = UINT32_MAX;

  std::string_view key(std::uint32_t index) const;
  std::size_t memory_bytes(std::size_t values, std::size_t entries, std::size_t slots) const;
  void grow();

  bool length_prefixed_;
  std::string values_;
  std::vector<std::uint32_t> starts_;  // where each value starts in values_
  std::vector<Slot> slots_;            // a power of two of them, at most half used
};

}  // namespace pg2s3::parquet::detail
