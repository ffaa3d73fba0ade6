#include "s3/multipart_upload.hpp"

#include "s3/detail/crypto.hpp"

namespace pg2s3::s3 {

namespace {

std::string_view unquoted(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') return etag.substr(1, etag.size() - 2);
  return etag;
}

std::optional<std::string> md5_bytes(std::string_view hex_digest) {
  if (hex_digest.size() != 32) return std::nullopt;
  std::string bytes;
  for (std::size_t i = 0; i < hex_digest.size(); i += 2) {
    unsigned value = 0;
    for (char c : hex_digest.substr(i, 2)) {
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + static_cast<unsigned>(digit);
    }
    bytes.push_back(static_cast<char>(value));
  }
  return bytes;
}

}  // namespace

std::optional<std::string> multipart_etag(std::span<const CompletedPart> parts) {
  std::string digests;
  for (const auto& part : parts) {
    auto digest = md5_bytes(unquoted(part.etag));
    if (!digest) return std::nullopt;
    digests += *digest;
  }
  return "\"" + detail::hex(detail::md5(digests)) + "-" + std::to_string(parts.size()) + "\"";
}

MultipartUpload::MultipartUpload(Client& client, std::string bucket, std::string key, std::string upload_id,
                                 std::unique_ptr<UploadOptions> options)
    : client_(&client),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      upload_id_(std::move(upload_id)),
      options_(std::move(options)) {}

Client::Task<MultipartUpload> MultipartUpload::create(Client& client, std::string_view bucket, std::string_view key,
                                                      std::string_view content_type) {
  return create(client, bucket, key, content_type, UploadOptions{});
}

Client::Task<MultipartUpload> MultipartUpload::create(Client& client, std::string_view bucket, std::string_view key,
                                                      std::string_view content_type, UploadOptions options) {
  auto held = std::make_unique<UploadOptions>(std::move(options));
  if (auto problem = check_upload_options(*held)) {
    Error error;
    error.code = errc::invalid_config;
    error.operation = "CreateMultipartUpload";
    error.bucket = bucket;
    error.key = key;
    error.detail = *problem;
    co_return error;
  }
  auto upload_id = co_await client.create_multipart_upload(bucket, key, content_type, held.get());
  if (!upload_id) co_return upload_id.error();
  co_return MultipartUpload(client, std::string(bucket), std::string(key), std::move(*upload_id), std::move(held));
}

Error MultipartUpload::refusal(std::string_view operation, errc code, std::string detail) const {
  Error error;
  error.code = code;
  error.operation = operation;
  error.bucket = bucket_;
  error.key = key_;
  error.detail = std::move(detail);
  return error;
}

Client::Task<void> MultipartUpload::upload_part(std::string_view bytes) {
  if (state_ != State::open) co_return refusal("UploadPart", errc::upload_not_open, "upload " + upload_id_);
  parts_.emplace_back();
  const int part_number = static_cast<int>(parts_.size());
  ++parts_in_flight_;
  auto part = co_await client_->upload_part(bucket_, key_, upload_id_, part_number, bytes, options_.get());
  --parts_in_flight_;
  if (!part) {
    part_failed_ = true;
    co_return part.error();
  }
  parts_[part_number - 1] = std::move(*part);
  bytes_uploaded_ += bytes.size();
  co_return Result<void>{};
}

Client::Task<void> MultipartUpload::complete() {
  if (state_ != State::open) co_return refusal("CompleteMultipartUpload", errc::upload_not_open, "upload " + upload_id_);
  if (part_failed_ || parts_in_flight_ > 0 || parts_.empty())
    co_return refusal("CompleteMultipartUpload", errc::incomplete_parts,
                      parts_.empty() ? "no part was uploaded" : "a part failed or is still in flight");
  auto completed = co_await client_->complete_multipart_upload(bucket_, key_, upload_id_, parts_, options_.get());
  if (!completed) {
    if (completed.error().s3_code != "NoSuchUpload") co_return completed.error();
    const bool ours = co_await object_is_ours();
    if (!ours) co_return completed.error();
  }
  state_ = State::completed;
  co_return Result<void>{};
}

boost::asio::awaitable<bool> MultipartUpload::object_is_ours() {
  const auto expected = multipart_etag(parts_);
  if (!expected) co_return false;
  auto object = co_await client_->head_object(bucket_, key_);
  co_return object && object->size == bytes_uploaded_ && unquoted(object->etag) == unquoted(*expected);
}

Client::Task<void> MultipartUpload::abort() {
  if (state_ != State::open) co_return Result<void>{};
  state_ = State::aborted;
  auto aborted = co_await client_->abort_multipart_upload(bucket_, key_, upload_id_, options_.get());
  // Gone is what an abort is for, whoever removed it first: an earlier attempt whose answer was lost, a
  // sweep of another process. (RGW also answers so at times to an abort right after a part was cut off.)
  if (!aborted && aborted.error().s3_code == "NoSuchUpload") co_return Result<void>{};
  co_return aborted;
}

}  // namespace pg2s3::s3
