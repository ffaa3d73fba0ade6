#include "parquet/detail/rle_hybrid.hpp"

#include <algorithm>
#include <vector>

namespace pg2s3::parquet::detail {

namespace {

constexpr std::size_t min_repeat = 8;  // shorter repeats cost no more bit-packed

void varint(std::uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// A literal run: `values`, whose size is a multiple of 8, least significant bit first.
void bit_pack(std::span<const std::uint32_t> values, int width, std::string& out) {
  varint((values.size() / 8) << 1 | 1, out);
  std::uint64_t bits = 0;
  int held = 0;
  for (std::uint32_t value : values) {
    bits |= static_cast<std::uint64_t>(value) << held;
    held += width;
    for (; held >= 8; held -= 8, bits >>= 8) out.push_back(static_cast<char>(bits & 0xFF));
  }
}

void repeat(std::uint32_t value, std::size_t count, int width, std::string& out) {
  varint(count << 1, out);
  for (int byte = 0; byte < (width + 7) / 8; ++byte) out.push_back(static_cast<char>(value >> (8 * byte)));
}

}  // namespace

int bit_width(std::uint32_t max_value) {
  int width = 1;
  while (width < 32 && (max_value >> width) != 0) ++width;
  return width;
}

template <class Value>
void encode_rle_hybrid(std::span<const Value> values, int width, std::string& out) {
  // Literals gather in groups of 8 between repeats; a repeat first tops the literals up to a whole
  // group, since a bit-packed run cannot end mid-group.
  std::vector<std::uint32_t> literals;
  auto flush_literals = [&] {
    if (literals.empty()) return;
    literals.resize((literals.size() + 7) / 8 * 8, 0);
    bit_pack(literals, width, out);
    literals.clear();
  };
  for (std::size_t i = 0; i < values.size();) {
    std::size_t run = 1;
    while (i + run < values.size() && values[i + run] == values[i]) ++run;
    if (run >= min_repeat && literals.size() % 8 != 0) {
      const std::size_t top_up = std::min(run, 8 - literals.size() % 8);
      literals.insert(literals.end(), top_up, values[i]);
      i += top_up;
      run -= top_up;
    }
    if (run >= min_repeat) {
      flush_literals();
      repeat(values[i], run, width, out);
    } else {
      literals.insert(literals.end(), run, values[i]);
    }
    i += run;
  }
  flush_literals();
}

template void encode_rle_hybrid(std::span<const std::uint8_t>, int, std::string&);
template void encode_rle_hybrid(std::span<const std::uint32_t>, int, std::string&);

}  // namespace pg2s3::parquet::detail
