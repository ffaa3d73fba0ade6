// One multipart upload of a stream of unknown length: numbered parts, their ETags in order, one ending.
#pragma once

#include "s3/client.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pg2s3::s3 {

// Parts of every multipart upload but the last must be at least this large (S3 answers EntityTooSmall).
inline constexpr std::size_t min_part_size = 5 * 1024 * 1024;

// Parts are numbered in the order upload_part() is called, and several may be in flight at once (from
// several coroutines). The upload ends exactly once: complete() with the parts really uploaded, or
// abort(), which later calls and a failed complete() leave to the caller to issue once.
// The ETag S3 gives the object these parts complete: the MD5 of their MD5s, then "-<count>", quoted.
// Nothing when a part's ETag is not an MD5 (as with SSE-KMS), which makes the object's unpredictable.
std::optional<std::string> multipart_etag(std::span<const CompletedPart> parts);

class MultipartUpload {
 public:
  static Client::Task<MultipartUpload> create(Client& client, std::string_view bucket, std::string_view key,
                                              std::string_view content_type = {});
  // With encryption, storage class, tags and the like (see UploadOptions), checked before any request.
  static Client::Task<MultipartUpload> create(Client& client, std::string_view bucket, std::string_view key,
                                              std::string_view content_type, UploadOptions options);

  // Sends `bytes` as the next part. They must stay valid until this returns.
  Client::Task<void> upload_part(std::string_view bytes);

  // Completes the upload with every part sent, in order. Fails without a request if a part failed
  // or is still in flight. When a retried Complete finds the upload gone (the first attempt took effect
  // and its answer was lost), the object at the key is checked: it is ours when its size and ETag are
  // what these parts make.
  Client::Task<void> complete();

  // Aborts the upload, once: later calls, and calls after complete() succeeded, do nothing. An upload S3
  // no longer knows counts as aborted.
  Client::Task<void> abort();

  const std::string& bucket() const { return bucket_; }
  const std::string& key() const { return key_; }
  const std::string& upload_id() const { return upload_id_; }
  int parts_started() const { return static_cast<int>(parts_.size()); }
  std::uint64_t bytes_uploaded() const { return bytes_uploaded_; }

 private:
  enum class State { open, completed, aborted };

  MultipartUpload(Client& client, std::string bucket, std::string key, std::string upload_id,
                  std::unique_ptr<UploadOptions> options);
  Error refusal(std::string_view operation, errc code, std::string detail) const;
  boost::asio::awaitable<bool> object_is_ours();

  Client* client_;
  std::string bucket_;
  std::string key_;
  std::string upload_id_;
  std::unique_ptr<UploadOptions> options_;  // on the heap: requests in flight point at them while this moves
  State state_ = State::open;
  std::vector<CompletedPart> parts_;  // index = part number - 1; an empty ETag: not (yet) uploaded
  std::uint64_t bytes_uploaded_ = 0;
  int parts_in_flight_ = 0;
  bool part_failed_ = false;
};

}  // namespace pg2s3::s3
