// An S3 client for one endpoint over HTTP/1.1 keep-alive (plain or TLS), signing every request with SigV4.
#pragma once

#include "s3/credentials/provider.hpp"
#include "s3/endpoint_rules.hpp"
#include "s3/error.hpp"
#include "s3/retry.hpp"
#include "s3/sigv4.hpp"
#include "s3/upload_options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::s3 {

// Where requests go: "http(s)://host[:port]", parsed.
struct Endpoint {
  bool tls = true;
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::string port;
  // "host[:port]" as the Host header carries it, the port only when not the scheme's default.
  std::string authority() const;
  std::string origin() const;  // "https://host[:port]"
};

// Parses "http(s)://host[:port]" (no path); nothing when the text is not of that form.
std::optional<Endpoint> parse_endpoint(std::string_view url);

struct ClientConfig {
  std::string endpoint;  // empty: AWS, "https://s3.<region>.amazonaws.com"
  std::string public_endpoint;  // written into presigned URLs; empty: the endpoint
  Addressing addressing = Addressing::automatic;
  SigningScope scope;
  // Static credentials; when empty, the AWS credential chain over `environment` (the process's when
  // unset), refreshed before they expire.
  Credentials credentials;
  EnvironmentLookup environment;
  std::chrono::milliseconds imds_timeout{1000};  // per request to the EC2 metadata service
  std::function<void(std::string_view line)> log;  // credential and region events; unset: standard error
  std::string expected_bucket_owner;  // sent on every request to the bucket when set
  std::string ca_file;  // trusted besides the system's certificates, for private CAs
  bool verify_peer = true;
  // How the bytes of PutObject and UploadPart are protected. A signed SHA-256 costs a hash of every byte
  // before sending; UNSIGNED-PAYLOAD with x-amz-checksum-crc32c lets S3 check the bytes for almost no CPU.
  // Stores that reject the flexible-checksum headers need signed_sha256.
  PayloadIntegrity payload_integrity = PayloadIntegrity::crc32c;
  RetryPolicy retry;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{60'000};  // for each write of a request and each read of a response
  std::size_t max_idle_connections = 16;
};

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;
  std::string content_type;
};

struct CompletedPart {
  int part_number = 0;
  std::string etag;
  std::string checksum_crc32c;  // base64, when the payload integrity is crc32c
};

struct MultipartUploadListing {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

struct ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
};

struct PresignedUrl {
  std::string url;
  std::chrono::system_clock::time_point expires_at;
  bool limited_by_credentials = false;  // it expires with the credentials that signed it, before the lifetime asked
};

// How long a presigned URL made at `now` stays valid: `wanted`, cut to the credentials' expiration and to
// S3's maximum of 7 days (and at least a second, as S3 requires).
std::chrono::seconds presigned_lifetime(std::chrono::system_clock::time_point now, std::chrono::seconds wanted,
                                        std::optional<std::chrono::system_clock::time_point> credentials_expiration);

struct ClientStats {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t tls_sessions_resumed = 0;  // connections whose TLS handshake resumed an earlier session
};

// Cancelling an operation (terminal, through the awaiting coroutine's cancellation slot) ends it with
// operation_aborted as a value; the connection it used is dropped. To do so the operations set
// throw_if_cancelled(false), a flag Asio keeps for the whole coroutine stack: after one of them, the
// caller's own later co_awaits do not throw when it is cancelled either.
class Client {
 public:
  template <class T>
  using Task = boost::asio::awaitable<Result<T>>;
  using BodySink = std::function<void(std::string_view chunk)>;

  // Fails when the endpoint cannot be parsed or the CA file cannot be read.
  static Result<Client> create(boost::asio::any_io_executor executor, ClientConfig config);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Bodies are sent from the caller's memory without copying; it must stay valid until the call returns.
  // An empty content type sends none. (No argument of these coroutines has a class-type default:
  // GCC 12 destroys such temporaries wrongly across co_await.)
  Task<void> put_object(std::string_view bucket, std::string_view key, std::string_view body,
                        std::string_view content_type = {}, const UploadOptions* options = nullptr);
  Task<ObjectInfo> head_object(std::string_view bucket, std::string_view key);
  // Streams the object's bytes to `sink` as they arrive.
  Task<ObjectInfo> get_object(std::string_view bucket, std::string_view key, BodySink sink);
  Task<void> delete_object(std::string_view bucket, std::string_view key);

  // `options` (null: none) apply to the upload's requests; the caller keeps them alive until the call returns.
  Task<std::string> create_multipart_upload(std::string_view bucket, std::string_view key,
                                            std::string_view content_type = {}, const UploadOptions* options = nullptr);
  Task<CompletedPart> upload_part(std::string_view bucket, std::string_view key, std::string_view upload_id,
                                  int part_number, std::string_view body, const UploadOptions* options = nullptr);
  Task<void> complete_multipart_upload(std::string_view bucket, std::string_view key, std::string_view upload_id,
                                       std::span<const CompletedPart> parts, const UploadOptions* options = nullptr);
  Task<void> abort_multipart_upload(std::string_view bucket, std::string_view key, std::string_view upload_id,
                                    const UploadOptions* options = nullptr);
  Task<std::vector<MultipartUploadListing>> list_multipart_uploads(std::string_view bucket,
                                                                   std::string_view prefix = {});
  // Every object whose key starts with `prefix`, in key order, fetched `page_size` keys a request (0: the
  // server's default, 1000 on S3).
  Task<std::vector<ListedObject>> list_objects(std::string_view bucket, std::string_view prefix, int page_size = 0);

  // A GET URL for the object, addressed to the public endpoint, valid for `expires` or until the credentials
  // that sign it expire, whichever comes first (and never past S3's limit of 7 days). Fails without usable
  // credentials at hand.
  Result<PresignedUrl> presign_get(std::string_view bucket, std::string_view key, std::chrono::seconds expires) const;

  // Whether credentials are at hand (fetched now when there are none): the reason, naming where the chain
  // looked, when not.
  Task<void> check_credentials();

  // Told of every request about to be retried, before the pause (one observer; a new one replaces it).
  void on_retry(RetryObserver observer);

  const ClientConfig& config() const;
  ClientStats stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg2s3::s3
