#include "parquet/detail/thrift_compact.hpp"

namespace pg2s3::parquet::detail {

void ThriftWriter::end_struct() {
  out_.push_back('\0');
  last_ids_.pop_back();
}

void ThriftWriter::field_bool(std::int16_t id, bool value) {
  // The compact protocol folds a boolean field's value into its header.
  field_header(id, value ? ThriftType::boolean_true : ThriftType::boolean_false);
}

void ThriftWriter::field_i8(std::int16_t id, std::int8_t value) {
  field_header(id, ThriftType::byte);
  out_.push_back(static_cast<char>(value));
}

void ThriftWriter::field_i32(std::int16_t id, std::int32_t value) {
  field_header(id, ThriftType::i32);
  varint(zigzag(value));
}

void ThriftWriter::field_i64(std::int16_t id, std::int64_t value) {
  field_header(id, ThriftType::i64);
  varint(zigzag(value));
}

void ThriftWriter::field_binary(std::int16_t id, std::string_view value) {
  field_header(id, ThriftType::binary);
  binary(value);
}

void ThriftWriter::field_list(std::int16_t id, ThriftType element, std::size_t size) {
  field_header(id, ThriftType::list);
  const auto type = static_cast<std::uint8_t>(element);
  if (size < 15) {
    out_.push_back(static_cast<char>((size << 4) | type));
  } else {
    out_.push_back(static_cast<char>(0xF0 | type));
    varint(size);
  }
}

void ThriftWriter::binary(std::string_view value) {
  varint(value.size());
  out_.append(value);
}

void ThriftWriter::field_header(std::int16_t id, ThriftType type) {
  const int delta = id - last_ids_.back();
  if (delta > 0 && delta <= 15) {
    out_.push_back(static_cast<char>((delta << 4) | static_cast<std::uint8_t>(type)));
  } else {
    out_.push_back(static_cast<char>(type));
    varint(zigzag(id));
  }
  last_ids_.back() = id;
}

void ThriftWriter::varint(std::uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

}  // namespace pg2s3::parquet::detail
