#include "s3/upload_options.hpp"

namespace pg2s3::s3 {
namespace {

// A filename for a quoted-string: quotes and backslashes escaped, control characters dropped.
std::string quoted_file_name(std::string_view key) {
  const auto slash = key.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  std::string quoted = "\"";
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::optional<std::string> check_upload_options(const UploadOptions& options) {
  if (!options.sse.empty() && options.sse != "AES256" && options.sse != "aws:kms")
    return "sse must be \"AES256\" or \"aws:kms\", not \"" + options.sse + "\"";
  if (!options.sse_kms_key_id.empty() && options.sse != "aws:kms") return "sse_kms_key_id needs sse = \"aws:kms\"";
  if (options.sse_bucket_key && options.sse != "aws:kms") return "sse_bucket_key needs sse = \"aws:kms\"";
  if (!options.acl.empty() && options.acl != "bucket-owner-full-control")
    return "acl may only be \"bucket-owner-full-control\", not \"" + options.acl + "\"";
  for (const auto& [name, value] : options.tags)
    if (name.empty() || name.size() > 128 || value.size() > 256) return "tag \"" + name + "\" is empty or too long";
  if (options.tags.size() > 10) return "S3 allows at most 10 tags on an object";
  for (const auto* text : {&options.storage_class, &options.expected_bucket_owner, &options.sse_kms_key_id})
    if (text->find_first_of("\r\n") != std::string::npos) return "a header value holds a line break";
  if (options.content_disposition && options.content_disposition->find_first_of("\r\n") != std::string::npos)
    return "content_disposition holds a line break";
  return std::nullopt;
}

HeaderList upload_option_headers(const UploadOptions& options, std::string_view key) {
  HeaderList headers;
  if (!options.sse.empty()) headers.emplace_back("x-amz-server-side-encryption", options.sse);
  if (!options.sse_kms_key_id.empty())
    headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", options.sse_kms_key_id);
  if (options.sse_bucket_key)
    headers.emplace_back("x-amz-server-side-encryption-bucket-key-enabled", *options.sse_bucket_key ? "true" : "false");
  if (!options.storage_class.empty()) headers.emplace_back("x-amz-storage-class", options.storage_class);
  if (!options.tags.empty()) {
    std::string tagging;
    for (const auto& [name, value] : options.tags)
      tagging += (tagging.empty() ? "" : "&") + uri_encode(name, false) + "=" + uri_encode(value, false);
    headers.emplace_back("x-amz-tagging", tagging);
  }
  const std::string disposition = options.content_disposition.value_or("attachment; filename=" + quoted_file_name(key));
  if (!disposition.empty()) headers.emplace_back("content-disposition", disposition);
  if (!options.acl.empty()) headers.emplace_back("x-amz-acl", options.acl);
  return headers;
}

}  // namespace pg2s3::s3
