#include "s3/detail/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nmmintrin.h>

namespace pg2s3::s3::detail {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest digest{};
  EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return digest;
}

std::array<unsigned char, 16> md5(std::string_view data) {
  std::array<unsigned char, 16> digest{};
  EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_md5(), nullptr);
  return digest;
}

Sha256Digest hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
  Sha256Digest mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  return mac;
}

namespace {

constexpr std::uint32_t castagnoli_reflected = 0x82F63B78u;

constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? castagnoli_reflected : 0u);
    table[i] = crc;
  }
  return table;
}

std::uint32_t crc32c_portable(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  static constexpr auto table = make_crc32c_table();
  while (n--) crc = table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
  return crc;
}

__attribute__((target("sse4.2")))
std::uint32_t crc32c_sse42(const unsigned char* p, std::size_t n, std::uint32_t crc) {
  std::uint64_t wide = crc;
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word;
    __builtin_memcpy(&word, p, 8);
    wide = _mm_crc32_u64(wide, word);
  }
  crc = static_cast<std::uint32_t>(wide);
  for (; n > 0; --n) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  auto bytes = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
  crc = has_sse42 ? crc32c_sse42(bytes, data.size(), crc) : crc32c_portable(bytes, data.size(), crc);
  return ~crc;
}

std::string hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

std::string base64(std::span<const unsigned char> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string crc32c_base64(std::string_view data) {
  std::uint32_t crc = crc32c(data);
  const std::array<unsigned char, 4> big_endian{
      static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
      static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  return base64(big_endian);
}

}  // namespace pg2s3::s3::detail
