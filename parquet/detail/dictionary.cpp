#include "parquet/detail/dictionary.hpp"

#include <bit>
#include <cstring>

namespace pg2s3::parquet::detail {

namespace {

constexpr std::size_t initial_slots = 64;
constexpr std::size_t length_bytes = sizeof(std::uint32_t);

template <class Unsigned>
std::uint64_t load(const char* at) {
  Unsigned value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// Multiply-and-fold over 8-byte words; the last 1 to 7 bytes are read as two overlapping 4-byte words,
// or as their first, middle and last byte, so that no byte is read one at a time in a loop.
std::uint64_t hash_bytes(std::string_view bytes) {
  constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15;  // 2^64 / golden ratio, odd
  const auto mix = [](std::uint64_t hash, std::uint64_t word) {
    hash = (hash ^ word) * multiplier;
    return hash ^ (hash >> 32);
  };
  const char* at = bytes.data();
  std::size_t left = bytes.size();
  std::uint64_t hash = mix(0, left);
  for (; left >= 8; at += 8, left -= 8) hash = mix(hash, load<std::uint64_t>(at));
  if (left >= 4) {
    hash = mix(hash, load<std::uint32_t>(at) << 32 | load<std::uint32_t>(at + left - 4));
  } else if (left > 0) {
    const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(at[i])}; };
    hash = mix(hash, byte(0) << 16 | byte(left / 2) << 8 | byte(left - 1));
  }
  return mix(hash, 0);
}

}  // namespace

Dictionary::Dictionary(bool length_prefixed) : length_prefixed_(length_prefixed), slots_(initial_slots) {}

std::optional<std::uint32_t> Dictionary::find_or_add(std::string_view key, std::size_t budget) {
  const auto hash = static_cast<std::uint32_t>(hash_bytes(key) >> 32);
  const std::size_t mask = slots_.size() - 1;
  std::size_t at = hash & mask;
  for (; slots_[at].index != empty; at = (at + 1) & mask)
    if (slots_[at].hash == hash && this->key(slots_[at].index) == key) return slots_[at].index;

  const std::size_t entry = (length_prefixed_ ? length_bytes : 0) + key.size();
  const bool grows = 2 * (size() + 1) > slots_.size();
  if (memory_bytes(values_.size() + entry, size() + 1, grows ? 3 * slots_.size() : slots_.size()) > budget)
    return std::nullopt;
  const auto index = static_cast<std::uint32_t>(size());
  starts_.push_back(static_cast<std::uint32_t>(values_.size()));
  if (length_prefixed_) {
    const auto length = static_cast<std::uint32_t>(key.size());  // little-endian, as the target is
    values_.append(reinterpret_cast<const char*>(&length), length_bytes);
  }
  values_.append(key);
  slots_[at] = {hash, index};
  if (grows) grow();
  return index;
}

// A growing index holds its old slots and the new ones, twice as many, for a moment: three times the old.
std::size_t Dictionary::memory_bytes(std::size_t values, std::size_t entries, std::size_t slots) const {
  return 2 * values + 2 * sizeof(std::uint32_t) * entries + sizeof(Slot) * slots;
}

std::size_t Dictionary::memory_bytes() const { return memory_bytes(values_.size(), size(), slots_.size()); }

std::string_view Dictionary::plain_entry(std::uint32_t index) const {
  const std::size_t start = starts_[index];
  const std::size_t end = index + 1 < size() ? starts_[index + 1] : values_.size();
  return std::string_view(values_).substr(start, end - start);
}

std::string_view Dictionary::key(std::uint32_t index) const {
  return plain_entry(index).substr(length_prefixed_ ? length_bytes : 0);
}

void Dictionary::grow() {
  std::vector<Slot> grown(2 * slots_.size());
  const std::size_t mask = grown.size() - 1;
  for (const Slot& slot : slots_) {
    if (slot.index == empty) continue;
    std::size_t at = slot.hash & mask;
    while (grown[at].index != empty) at = (at + 1) & mask;
    grown[at] = slot;
  }
  slots_ = std::move(grown);
}

}  // namespace pg2s3::parquet::detail
