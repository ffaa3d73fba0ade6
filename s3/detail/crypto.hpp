// Hashes, MACs, checksums and encodings that SigV4 and S3 payload integrity are built from.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pg2s3::s3::detail {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
std::array<unsigned char, 16> md5(std::string_view data);  // for S3's ETags only
Sha256Digest hmac_sha256(std::span<const unsigned char> key, std::string_view data);

// CRC-32C (Castagnoli), with the SSE4.2 instruction where the processor has it.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

std::string hex(std::span<const unsigned char> bytes);
std::string base64(std::span<const unsigned char> bytes);

// The value of x-amz-checksum-crc32c: the big-endian CRC in base64.
std::string crc32c_base64(std::string_view data);

}  // namespace pg2s3::s3::detail
