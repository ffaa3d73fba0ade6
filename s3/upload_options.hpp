// What an upload asks of S3 besides its bytes: encryption, storage class, tags, disposition, ownership.
#pragma once

#include "s3/sigv4.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pg2s3::s3 {

enum class PayloadIntegrity { signed_sha256, crc32c };

struct UploadOptions {
  std::string sse;             // "", "AES256" or "aws:kms"
  std::string sse_kms_key_id;  // with aws:kms; empty: the account's default key (AWS only)
  std::optional<bool> sse_bucket_key;
  std::string storage_class;   // "STANDARD_IA", "INTELLIGENT_TIERING", ...; empty: the bucket's default
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<std::string> content_disposition;  // none: attachment; filename="<last segment of the key>"
  std::string expected_bucket_owner;  // an account id; empty: not checked
  std::string acl;                    // "bucket-owner-full-control"; empty: none sent
  std::optional<PayloadIntegrity> payload_integrity;  // none: the client's
};

// The reason the options cannot be used, or nothing.
std::optional<std::string> check_upload_options(const UploadOptions& options);

// The headers CreateMultipartUpload (and PutObject) carry for these options; the owner header is not
// among them, since it goes on every request to the bucket.
HeaderList upload_option_headers(const UploadOptions& options, std::string_view key);

}  // namespace pg2s3::s3
