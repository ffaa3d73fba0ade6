#include "pg/copy_binary.hpp"

#include <algorithm>

namespace pg2s3::pg {

namespace {

constexpr std::string_view signature{"PGCOPY\n\377\r\n\0", 11};
constexpr std::size_t header_size = 11 + 4 + 4;  // signature, flags, extension length

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

std::int16_t read_i16(std::string_view bytes, std::size_t at) {
  return static_cast<std::int16_t>(static_cast<unsigned char>(bytes[at]) << 8 | static_cast<unsigned char>(bytes[at + 1]));
}

}  // namespace

Error BinaryCopyParser::malformed(std::string what) const {
  return Error{make_error_code(errc::unexpected_result), "binary COPY", "", what + " (row " + std::to_string(rows_ + 1) + ")", "", ""};
}

Result<BinaryCopyParser::Step> BinaryCopyParser::parse(std::string_view bytes) {
  return header_read_ ? parse_row(bytes) : parse_header(bytes);
}

Result<BinaryCopyParser::Step> BinaryCopyParser::parse_header(std::string_view bytes) const {
  if (bytes.size() < header_size) return Step{Step::need_more, header_size - bytes.size()};
  if (bytes.substr(0, signature.size()) != signature) return malformed("no binary COPY signature");
  // Bit 16 of the flags: OIDs included, which COPY of a query never sends; the rest must be zero.
  if (read_u32(bytes, 11) != 0) return malformed("unknown binary COPY flags");
  const std::size_t size = header_size + read_u32(bytes, 15);
  if (bytes.size() < size) return Step{Step::need_more, size - bytes.size()};
  return Step{Step::whole, size};
}

Result<BinaryCopyParser::Step> BinaryCopyParser::parse_row(std::string_view bytes) {
  if (bytes.size() < 2) return Step{Step::need_more, 2 - bytes.size()};
  const std::int16_t count = read_i16(bytes, 0);
  if (count == -1) return Step{Step::trailer, 2};
  if (count < 0 || static_cast<std::size_t>(count) != columns_)
    return malformed("a tuple of " + std::to_string(count) + " fields where " + std::to_string(columns_) + " were expected");
  fields_.clear();
  std::size_t at = 2;
  for (int i = 0; i < count; ++i) {
    if (bytes.size() < at + 4) return Step{Step::need_more, at + 4 - bytes.size()};
    const auto length = static_cast<std::int32_t>(read_u32(bytes, at));
    at += 4;
    if (length == -1) {
      fields_.emplace_back(std::nullopt);
      continue;
    }
    if (length < 0) return malformed("a field of length " + std::to_string(length));
    if (bytes.size() < at + static_cast<std::size_t>(length)) return Step{Step::need_more, at + length - bytes.size()};
    fields_.emplace_back(bytes.substr(at, static_cast<std::size_t>(length)));
    at += static_cast<std::size_t>(length);
  }
  return Step{Step::whole, at};
}

Result<std::optional<std::span<const BinaryField>>> BinaryCopyParser::next_row() {
  if (row_in_carry_) {
    carry_.clear();
    row_in_carry_ = false;
  }
  for (;;) {
    if (ended_) {
      if (!input_.empty()) return malformed("data after the binary COPY trailer");
      return std::nullopt;
    }
    // A unit begun in an earlier chunk grows by what parsing asks for, until it is whole.
    std::string_view bytes = input_;
    if (!carry_.empty()) {
      auto step = parse(carry_);
      if (!step) return step.error();
      if (step->kind == Step::need_more) {
        if (input_.empty()) return std::nullopt;
        const std::size_t n = std::min(step->size, input_.size());
        carry_.append(input_.substr(0, n));
        input_.remove_prefix(n);
        continue;
      }
      bytes = carry_;
    }
    auto step = parse(bytes);
    if (!step) return step.error();
    if (step->kind == Step::need_more) {
      carry_.append(input_);
      input_ = {};
      return std::nullopt;
    }
    // The carry grows only by what parsing asked for, so a whole unit in it is all of it.
    const bool from_carry = !carry_.empty();
    if (!from_carry) input_.remove_prefix(step->size);
    if (step->kind == Step::trailer || !header_read_) {
      ended_ = step->kind == Step::trailer;
      header_read_ = true;
      carry_.clear();
      continue;
    }
    ++rows_;
    row_in_carry_ = from_carry;  // its fields view the carry: cleared at the next call, not before
    return std::optional<std::span<const BinaryField>>(fields_);
  }
}

Result<void> BinaryCopyParser::finish() const {
  if (!ended_) return malformed(carry_.empty() && header_read_ ? "no binary COPY trailer" : "binary COPY data cut short");
  return {};
}

}  // namespace pg2s3::pg
