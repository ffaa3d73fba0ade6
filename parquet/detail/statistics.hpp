// A column chunk's statistics: null count, and min and max in the order the column's type defines.
#pragma once

#include "parquet/detail/thrift_compact.hpp"
#include "parquet/writer.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace pg2s3::parquet::detail {

class Statistics {
 public:
  // Longer byte-array bounds are cut to this many bytes and marked inexact (the max rounded up).
  static constexpr std::size_t max_bound_bytes = 64;

  explicit Statistics(const Column& column) : order_(order_of(column)) {}

  void add_null() { ++null_count_; }
  // A non-null value of the column's physical type (NaN, which has no place in an order, is left out).
  void add(bool value) { add_number(value); }
  void add(std::int32_t value) { add_number(value); }
  void add(std::int64_t value) { add_number(value); }
  void add(float value) { if (!std::isnan(value)) add_number(value); }
  void add(double value) { if (!std::isnan(value)) add_number(value); }
  void add(std::string_view value);
  void reset() { *this = Statistics(order_); }

  std::int64_t null_count() const { return null_count_; }
  bool has_bounds() const { return min_.index() != 0; }
  // PLAIN encoding of the bounds (byte arrays without their length): what min_value and max_value hold.
  std::string min_bytes() const;
  std::string max_bytes() const;

  // Writes a Statistics struct as field `id` of the struct being written.
  void write(ThriftWriter& thrift, std::int16_t id) const;

 private:
  // How values of the column compare: by number, or byte by byte as unsigned or two's complement.
  enum class Order { number, unsigned_bytes, signed_bytes };
  using Bound = std::variant<std::monostate, bool, std::int32_t, std::int64_t, float, double, std::string>;

  explicit Statistics(Order order) : order_(order) {}
  static Order order_of(const Column& column);
  int compare(std::string_view a, std::string_view b) const;

  template <class Number>
  void add_number(Number value) {
    if (!has_bounds()) {
      min_ = value;
      max_ = value;
    } else if (value < *std::get_if<Number>(&min_)) {
      min_ = value;
    } else if (*std::get_if<Number>(&max_) < value) {
      max_ = value;
    }
  }

  Order order_;
  std::int64_t null_count_ = 0;
  Bound min_, max_;
};

}  // namespace pg2s3::parquet::detail
