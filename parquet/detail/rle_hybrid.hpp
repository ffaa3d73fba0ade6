// Parquet's RLE / bit-packed hybrid encoding (definition levels, dictionary indices) and DELTA_BINARY_PACKED
// (integer values), with the varints and bit packing they share.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pg2s3::parquet::detail {

// The fewest bits that hold every value up to `max_value` (at least 1).
int bit_width(std::uint32_t max_value);

// Appends `value` as an unsigned LEB128 varint.
void append_varint(std::uint64_t value, std::string& out);

// Appends `values` (each below 2^bit_width), least significant bit first, as whole bytes; the values'
// count times `bit_width` must be a multiple of 8. For uint32_t and uint64_t.
template <class Unsigned>
void bit_pack(std::span<const Unsigned> values, int bit_width, std::string& out);

// Appends `values` (each below 2^bit_width) to `out`: runs of 8 or more equal values as RLE runs, the rest
// bit-packed in groups of 8 (the last group padded with zeros; readers stop at the page's value count).
// No length prefix and no bit-width byte: callers add what their context needs.
// Defined for uint8_t (levels) and uint32_t (dictionary indices).
template <class Value>
void encode_rle_hybrid(std::span<const Value> values, int bit_width, std::string& out);

// Appends the integers that `plain` holds, PLAIN-encoded (4 or 8 bytes each, as `Integer` is int32_t or
// int64_t), as DELTA_BINARY_PACKED: blocks of 128 differences from the previous value, each block keeping
// its smallest difference and the rest in 4 miniblocks of 32, bit-packed at the width each needs.
// Differences wrap around in the integer's width, as readers add them. `plain` holds at least one value.
template <class Integer>
void encode_delta_binary_packed(std::string_view plain, std::string& out);

}  // namespace pg2s3::parquet::detail
