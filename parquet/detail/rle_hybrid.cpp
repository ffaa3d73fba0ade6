#include "parquet/detail/rle_hybrid.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace pg2s3::parquet::detail {

namespace {

constexpr std::size_t min_repeat = 8;  // shorter repeats cost no more bit-packed

// A literal run: `values`, whose size is a multiple of 8.
void literal_run(std::span<const std::uint32_t> values, int width, std::string& out) {
  append_varint((values.size() / 8) << 1 | 1, out);
  bit_pack(values, width, out);
}

void repeat(std::uint32_t value, std::size_t count, int width, std::string& out) {
  append_varint(count << 1, out);
  for (int byte = 0; byte < (width + 7) / 8; ++byte) out.push_back(static_cast<char>(value >> (8 * byte)));
}

}  // namespace

void append_varint(std::uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

template <class Unsigned>
void bit_pack(std::span<const Unsigned> values, int width, std::string& out) {
  // Twice the value's width, so that a value fits beside the 7 bits at most left over from the last.
  using Bits = std::conditional_t<sizeof(Unsigned) == 4, std::uint64_t, unsigned __int128>;
  Bits bits = 0;
  int held = 0;
  for (Unsigned value : values) {
    bits |= static_cast<Bits>(value) << held;
    held += width;
    for (; held >= 8; held -= 8, bits >>= 8) out.push_back(static_cast<char>(bits & 0xFF));
  }
}

template void bit_pack(std::span<const std::uint32_t>, int, std::string&);
template void bit_pack(std::span<const std::uint64_t>, int, std::string&);

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
    literal_run(literals, width, out);
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


template <class Integer>
void encode_delta_binary_packed(std::string_view plain, std::string& out) {
  using Unsigned = std::make_unsigned_t<Integer>;
  constexpr std::size_t block = 128, miniblocks = 4, miniblock = block / miniblocks;
  const auto zigzag = [](std::int64_t value) { return static_cast<std::uint64_t>(value) << 1 ^ static_cast<std::uint64_t>(value >> 63); };
  const std::size_t count = plain.size() / sizeof(Integer);
  const auto value_at = [&](std::size_t index) {
    Unsigned value;
    std::memcpy(&value, plain.data() + index * sizeof value, sizeof value);
    return value;
  };
  append_varint(block, out);
  append_varint(miniblocks, out);
  append_varint(count, out);
  append_varint(zigzag(static_cast<Integer>(value_at(0))), out);
  std::array<Unsigned, block> deltas;
  Unsigned previous = value_at(0);
  for (std::size_t start = 1; start < count; start += block) {
    const std::size_t size = std::min(block, count - start);
    Integer min_delta = std::numeric_limits<Integer>::max();
    for (std::size_t i = 0; i < size; ++i) {
      const Unsigned value = value_at(start + i);
      deltas[i] = static_cast<Unsigned>(value - previous);
      previous = value;
      min_delta = std::min(min_delta, static_cast<Integer>(deltas[i]));
    }
    append_varint(zigzag(min_delta), out);
    // The last block's missing values are zeros, packed with the last miniblock it needs.
    std::fill(deltas.begin() + static_cast<std::ptrdiff_t>(size), deltas.end(), Unsigned{0});
    for (std::size_t i = 0; i < size; ++i) deltas[i] = static_cast<Unsigned>(deltas[i] - static_cast<Unsigned>(min_delta));
    const std::size_t used = (size + miniblock - 1) / miniblock;
    std::array<int, miniblocks> widths{};
    for (std::size_t m = 0; m < used; ++m) {
      const auto first = deltas.begin() + static_cast<std::ptrdiff_t>(m * miniblock);
      widths[m] = static_cast<int>(std::bit_width(*std::max_element(first, first + miniblock)));
    }
    for (int width : widths) out.push_back(static_cast<char>(width));
    for (std::size_t m = 0; m < used; ++m)
      bit_pack(std::span<const Unsigned>(deltas.data() + m * miniblock, miniblock), widths[m], out);
  }
}

template void encode_delta_binary_packed<std::int32_t>(std::string_view, std::string&);
template void encode_delta_binary_packed<std::int64_t>(std::string_view, std::string&);

}  // namespace pg2s3::parquet::detail
