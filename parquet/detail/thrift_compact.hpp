// Thrift's compact protocol, the encoding of Parquet's page headers and footer: the writing half only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::parquet::detail {

// The compact protocol's type codes, as they appear in field and list headers.
enum class ThriftType : std::uint8_t {
  boolean_true = 1, boolean_false = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double_ = 7,
  binary = 8, list = 9, set = 10, map = 11, structure = 12,
};

// Appends to a byte string. Fields carry their ids as deltas from the previous field of the same struct,
// so nested structs keep a stack of last ids: call begin_struct/end_struct around every struct, the
// outermost one included.
class ThriftWriter {
 public:
  explicit ThriftWriter(std::string& out) : out_(out) {}

  void begin_struct() { last_ids_.push_back(0); }
  void end_struct();  // writes the stop byte

  void field_bool(std::int16_t id, bool value);
  void field_i8(std::int16_t id, std::int8_t value);
  void field_i32(std::int16_t id, std::int32_t value);
  void field_i64(std::int16_t id, std::int64_t value);
  void field_binary(std::int16_t id, std::string_view value);
  void field_struct(std::int16_t id) { field_header(id, ThriftType::structure); begin_struct(); }
  void field_list(std::int16_t id, ThriftType element, std::size_t size);

  // List elements, after field_list.
  void i32(std::int32_t value) { varint(zigzag(value)); }
  void binary(std::string_view value);
  void list_struct() { begin_struct(); }
  // A whole struct encoded by another ThriftWriter (it starts afresh, so its bytes stand alone).
  void encoded_struct(std::string_view bytes) { out_.append(bytes); }

 private:
  static std::uint64_t zigzag(std::int64_t value) {
    return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  }
  void field_header(std::int16_t id, ThriftType type);
  void varint(std::uint64_t value);

  std::string& out_;
  std::vector<std::int16_t> last_ids_;
};

}  // namespace pg2s3::parquet::detail
