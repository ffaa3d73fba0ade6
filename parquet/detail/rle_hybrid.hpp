// Parquet's RLE / bit-packed hybrid encoding, used for definition levels and dictionary indices.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace pg2s3::parquet::detail {

// The fewest bits that hold every value up to `max_value` (at least 1).
int bit_width(std::uint32_t max_value);

// Appends `values` (each below 2^bit_width) to `out`: runs of 8 or more equal values as RLE runs, the rest
// bit-packed in groups of 8 (the last group padded with zeros; readers stop at the page's value count).
// No length prefix and no bit-width byte: callers add what their context needs.
// Defined for uint8_t (levels) and uint32_t (dictionary indices).
template <class Value>
void encode_rle_hybrid(std::span<const Value> values, int bit_width, std::string& out);

}  // namespace pg2s3::parquet::detail
