#include "parquet/detail/statistics.hpp"

#include <bit>
#include <cmath>
#include <cstring>

namespace pg2s3::parquet::detail {

namespace {

template <class Number>
std::string little_endian(Number number) {
  static_assert(std::endian::native == std::endian::little);
  std::string bytes(sizeof number, '\0');
  std::memcpy(bytes.data(), &number, sizeof number);
  return bytes;
}

std::string plain_bytes(const auto& bound) {
  return std::visit(
      [](const auto& value) -> std::string {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::monostate>) return {};
        else if constexpr (std::is_same_v<T, bool>) return std::string(1, value ? '\1' : '\0');
        else if constexpr (std::is_same_v<T, std::string>) return value;
        else return little_endian(value);
      },
      bound);
}

// Two's complement, big-endian, of equal length: the sign byte decides first.
int compare_signed(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0]) return static_cast<signed char>(a[0]) < static_cast<signed char>(b[0]) ? -1 : 1;
  return a.compare(b);  // char_traits<char> compares as unsigned char
}

// A cut that does not split a UTF-8 sequence (harmless for other bytes: it is still a prefix).
std::size_t cut_point(std::string_view bytes) {
  std::size_t cut = Statistics::max_bound_bytes;
  while (cut > 0 && (static_cast<unsigned char>(bytes[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

// The prefix rounded up: its last byte below 0xFF incremented; nothing when every byte is 0xFF.
std::string rounded_up_prefix(std::string_view bytes) {
  std::string prefix(bytes.substr(0, cut_point(bytes)));
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

Statistics::Order Statistics::order_of(const Column& column) {
  if (column.physical == PhysicalType::byte_array) return Order::unsigned_bytes;
  if (column.physical == PhysicalType::fixed_len_byte_array)
    return column.logical == LogicalType::decimal ? Order::signed_bytes : Order::unsigned_bytes;
  return Order::number;
}

void Statistics::add(std::string_view value) {
  if (!has_bounds()) {
    min_ = std::string(value);
    max_ = std::string(value);
  } else if (auto& min = *std::get_if<std::string>(&min_); compare(value, min) < 0) {
    min.assign(value);  // in the buffer it has, mostly without allocating
  } else if (auto& max = *std::get_if<std::string>(&max_); compare(value, max) > 0) {
    max.assign(value);
  }
}

int Statistics::compare(std::string_view a, std::string_view b) const {
  return order_ == Order::signed_bytes ? compare_signed(a, b) : a.compare(b);
}

// A zero bound is written as -0.0 when a min and +0.0 when a max, as the format asks, since readers
// cannot tell which zeros the column holds.
std::string Statistics::min_bytes() const {
  if (const auto* f = std::get_if<float>(&min_); f && *f == 0.0f) return little_endian(-0.0f);
  if (const auto* d = std::get_if<double>(&min_); d && *d == 0.0) return little_endian(-0.0);
  return plain_bytes(min_);
}

std::string Statistics::max_bytes() const {
  if (const auto* f = std::get_if<float>(&max_); f && *f == 0.0f) return little_endian(0.0f);
  if (const auto* d = std::get_if<double>(&max_); d && *d == 0.0) return little_endian(0.0);
  return plain_bytes(max_);
}

void Statistics::write(ThriftWriter& thrift, std::int16_t id) const {
  thrift.field_struct(id);
  thrift.field_i64(3, null_count_);
  if (has_bounds()) {
    std::string min = min_bytes(), max = max_bytes();
    const bool min_cut = min.size() > max_bound_bytes, max_cut = max.size() > max_bound_bytes;
    if (max_cut) max = rounded_up_prefix(max);
    if (min_cut) min.resize(cut_point(min));
    const bool has_max = !max_cut || !max.empty();  // no bound above a long run of 0xFF
    if (has_max) thrift.field_binary(5, max);
    thrift.field_binary(6, min);
    if (has_max) thrift.field_bool(7, !max_cut);
    thrift.field_bool(8, !min_cut);
  }
  thrift.end_struct();
}

}  // namespace pg2s3::parquet::detail
