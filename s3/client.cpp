#include "s3/client.hpp"

#include "async/cancellation.hpp"

#include "s3/credentials/cache.hpp"
#include "s3/credentials/chain.hpp"
#include "s3/detail/connection_pool.hpp"
#include "s3/detail/crypto.hpp"
#include "s3/detail/xml.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <iostream>
#include <map>
#include <random>

namespace pg2s3::s3 {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using detail::ConnectionPool;
using detail::HttpRequest;
using detail::HttpResponse;
using detail::TransportFailure;

namespace {

using async::use_tuple;
constexpr std::size_t max_response_body = 16 * 1024 * 1024;  // XML listings, never object data

// One S3 request before it is signed: signing happens per attempt, the payload hash once.
struct Operation {
  std::string_view name;
  http::verb method;
  std::string_view bucket;
  std::string_view key;
  QueryParameters query;
  HeaderList headers;
  std::string_view body;
  std::string payload_hash;
  const UploadOptions* options = nullptr;  // of the upload this request belongs to
};

// Where one request goes: the host to connect to and the (raw) path.
struct Address {
  Endpoint endpoint;
  std::string path;
};

Error error_for(const Operation& operation) {
  Error error;
  error.operation = operation.name;
  error.bucket = operation.bucket;
  error.key = operation.key;
  return error;
}

Error transport_error(const Operation& operation, const TransportFailure& failure) {
  Error error = error_for(operation);
  error.code = failure.code;
  error.detail = failure.detail;
  return error;
}

Error malformed(const Operation& operation, std::string detail) {
  Error error = error_for(operation);
  error.code = errc::malformed_response;
  error.detail = std::move(detail);
  return error;
}

// A 2xx whose body is an <Error> is an error too: CompleteMultipartUpload answers that way.
Result<HttpResponse> check_response(const Operation& operation, HttpResponse response) {
  const unsigned status = response.result_int();
  if (status / 100 == 2 && detail::xml_root_name(response.body()) != "Error") return response;

  Error error = error_for(operation);
  error.code = errc::service_error;
  error.http_status = status;
  error.request_id = response["x-amz-request-id"];
  error.s3_code = detail::xml_text(response.body(), "Code").value_or(status == 404 ? "NotFound" : "");
  error.detail = detail::xml_text(response.body(), "Message").value_or("");
  error.bucket_region =
      region_of_redirect(status, error.s3_code, response["x-amz-bucket-region"], response.body()).value_or("");
  return error;
}

ObjectInfo object_info(const HttpResponse& response) {
  ObjectInfo info;
  const auto length = response[http::field::content_length];
  std::from_chars(length.data(), length.data() + length.size(), info.size);
  info.etag = response[http::field::etag];
  info.content_type = response[http::field::content_type];
  return info;
}

void add_content_type(Operation& operation, std::string_view content_type) {
  if (!content_type.empty()) operation.headers.emplace_back("content-type", content_type);
}

std::string complete_multipart_body(std::span<const CompletedPart> parts) {
  std::string xml = R"(<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)";
  for (const auto& part : parts) {
    xml += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>" +
           detail::xml_escape(part.etag) + "</ETag>";
    if (!part.checksum_crc32c.empty()) xml += "<ChecksumCRC32C>" + part.checksum_crc32c + "</ChecksumCRC32C>";
    xml += "</Part>";
  }
  return xml + "</CompleteMultipartUpload>";
}

}  // namespace

// ------------------------------------------------------------------ endpoints

std::string Endpoint::authority() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = port == (tls ? "443" : "80");
  return default_port ? name : name + ":" + port;
}

std::string Endpoint::origin() const { return (tls ? "https://" : "http://") + authority(); }

std::optional<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint endpoint;
  if (url.starts_with("https://")) {
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    endpoint.tls = false;
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  if (url.ends_with('/')) url.remove_suffix(1);
  if (url.empty() || url.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;

  std::string_view port;
  if (url.front() == '[') {  // an IPv6 literal
    const auto close = url.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    endpoint.host = url.substr(1, close - 1);
    const auto rest = url.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const auto colon = url.rfind(':');
    endpoint.host = url.substr(0, colon);
    if (colon != std::string_view::npos) port = url.substr(colon + 1);
    if (colon != std::string_view::npos && port.empty()) return std::nullopt;
  }
  unsigned number = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc{} || end != port.data() + port.size() || number == 0 || number > 65535) return std::nullopt;
  }
  if (endpoint.host.empty()) return std::nullopt;
  endpoint.port = port.empty() ? (endpoint.tls ? "443" : "80") : std::string(port);
  return endpoint;
}

std::chrono::seconds presigned_lifetime(std::chrono::system_clock::time_point now, std::chrono::seconds wanted,
                                        std::optional<std::chrono::system_clock::time_point> credentials_expiration) {
  auto lifetime = std::min<std::chrono::seconds>(wanted, std::chrono::days(7));
  if (credentials_expiration)
    lifetime = std::min(lifetime, std::chrono::floor<std::chrono::seconds>(*credentials_expiration - now));
  return std::max(lifetime, std::chrono::seconds(1));
}

// ------------------------------------------------------------------ the client's machinery

struct Client::Impl {
  asio::any_io_executor executor;
  ClientConfig config;
  Endpoint endpoint;
  Endpoint public_endpoint;
  bool aws_endpoint = false;  // AWS's own: its host names the region, and buckets may go into it
  bool aws_public_endpoint = false;
  std::map<std::string, std::string, std::less<>> bucket_regions;  // learnt from wrong-region answers
  std::shared_ptr<CredentialsCache> credentials;
  std::optional<ConnectionPool> connections;
  ClientStats stats;  // requests and retries; the pool counts the connections
  RetryObserver retry_observer;
  std::minstd_rand random{std::random_device{}()};

  void tell_retry(const Operation& operation, const Error& error, int next_attempt) const {
    if (!retry_observer) return;
    RetryNotice notice{std::string(operation.name), std::string(operation.bucket), std::string(operation.key), 0,
                       next_attempt, config.retry.max_attempts, retry_reason(error)};
    for (const auto& [name, value] : operation.query)
      if (name == "partNumber") notice.part_number = std::stoi(value);
    retry_observer(notice);
  }

  ~Impl() {
    if (credentials) credentials->stop();
  }

  void log(std::string_view line) const {
    if (config.log) return config.log(line);
    std::clog << "pg2s3: " << line << std::endl;
  }

  const std::string& region_of(std::string_view bucket) const {
    auto it = bucket_regions.find(bucket);
    return it == bucket_regions.end() ? config.scope.region : it->second;
  }

  Address address(Endpoint base, bool aws, std::string_view bucket, std::string_view key) const {
    if (aws && region_of(bucket) != config.scope.region) base = *parse_endpoint(aws_s3_endpoint(region_of(bucket)));
    Address address{base, "/"};
    if (!bucket.empty() && use_virtual_host(config.addressing, aws, bucket)) {
      address.endpoint.host = std::string(bucket) + "." + base.host;
      address.path += key;
    } else if (!bucket.empty()) {
      address.path += std::string(bucket) + (key.empty() ? "" : "/" + std::string(key));
    }
    return address;
  }

  // PutObject and UploadPart: the payload protected as configured.
  Operation data_operation(std::string_view name, http::verb method, std::string_view bucket, std::string_view key,
                           std::string_view body, const UploadOptions* options) const {
    Operation operation{name, method, bucket, key, {}, {}, body, {}, options};
    if (integrity(options) == PayloadIntegrity::crc32c) {
      operation.payload_hash = unsigned_payload;
      operation.headers.emplace_back("x-amz-checksum-crc32c", detail::crc32c_base64(body));
    }
    return operation;
  }

  PayloadIntegrity integrity(const UploadOptions* options) const {
    return options && options->payload_integrity ? *options->payload_integrity : config.payload_integrity;
  }

  HttpRequest signed_request(const Operation& operation, const Address& address, const Credentials& credentials) const {
    SignableRequest signable{std::string(http::to_string(operation.method)), address.path, operation.query,
                             operation.headers, operation.payload_hash};
    signable.headers.emplace_back("host", address.endpoint.authority());
    const std::string& owner = operation.options && !operation.options->expected_bucket_owner.empty()
                                   ? operation.options->expected_bucket_owner
                                   : config.expected_bucket_owner;
    if (!owner.empty() && !operation.bucket.empty()) signable.headers.emplace_back("x-amz-expected-bucket-owner", owner);
    sign_request(signable, credentials, {region_of(operation.bucket), config.scope.service},
                 std::chrono::system_clock::now());

    std::string target = uri_encode(address.path, true);
    if (!operation.query.empty()) target += "?" + canonical_query_string(operation.query);
    HttpRequest request{operation.method, target, 11};
    for (const auto& [name, value] : signable.headers) request.set(name, value);
    request.set(http::field::user_agent, "pg2s3");
    request.body() = {operation.body.data(), operation.body.size()};
    request.prepare_payload();
    request.keep_alive(true);
    return request;
  }

  asio::awaitable<TransportFailure> exchange(detail::HttpConnection& connection, HttpRequest& request,
                                             HttpResponse& response, const BodySink* sink) {
    if (sink) co_return co_await connection.round_trip_streaming(request, response, *sink, config.io_timeout);
    co_return co_await connection.round_trip(request, response, max_response_body, config.io_timeout);
  }

  // One attempt. An idle connection that the server has meanwhile closed fails before any answer:
  // then the request goes once more on a new connection, not counted as an attempt.
  asio::awaitable<Result<HttpResponse>> attempt(const Operation& operation, const BodySink* sink) {
    auto signing = co_await credentials->get();
    if (!signing) co_return signing.error();
    const Address target = address(endpoint, aws_endpoint, operation.bucket, operation.key);
    const std::string authority = target.endpoint.authority();
    auto connection = connections->take_idle(authority);
    bool fresh = connection == nullptr;
    HttpResponse response;
    for (;;) {
      if (!connection) {
        auto [opened, failure] = co_await connections->open(target.endpoint);
        if (failure) co_return transport_error(operation, failure);
        connection = std::move(opened);
      }
      HttpRequest request = signed_request(operation, target, signing->credentials);
      auto failure = co_await exchange(*connection, request, response, sink);
      if (!failure) break;
      if (fresh || !failure.received_nothing) co_return transport_error(operation, failure);
      connection.reset();
      fresh = true;
    }
    if (connection->reusable()) connections->give_back(authority, std::move(connection));
    co_return check_response(operation, std::move(response));
  }

  // A bucket in another region than configured: S3 names it, and the request goes once more there. The
  // region is remembered for the bucket's later requests.
  asio::awaitable<Result<HttpResponse>> attempt_in_bucket_region(const Operation& operation, const BodySink* sink) {
    auto outcome = co_await attempt(operation, sink);
    if (outcome || outcome.error().bucket_region.empty() || operation.bucket.empty() ||
        outcome.error().bucket_region == region_of(operation.bucket))
      co_return outcome;
    log("bucket " + std::string(operation.bucket) + " is in region " + outcome.error().bucket_region + ", not " +
        region_of(operation.bucket) + ": its requests go there from now on");
    bucket_regions[std::string(operation.bucket)] = outcome.error().bucket_region;
    co_return co_await attempt(operation, sink);
  }

  asio::awaitable<Result<HttpResponse>> execute(Operation operation, BodySink sink = nullptr) {
    co_await asio::this_coro::throw_if_cancelled(false);  // cancellation comes back as operation_aborted
    if (operation.payload_hash.empty()) operation.payload_hash = detail::hex(detail::sha256(operation.body));
    // Once bytes have gone to the caller's sink, a retry would hand them over twice.
    bool delivered = false;
    BodySink counting_sink;
    if (sink) counting_sink = [&](std::string_view chunk) { delivered = true; sink(chunk); };

    for (int attempt_number = 1;; ++attempt_number) {
      ++stats.requests;
      auto outcome = co_await attempt_in_bucket_region(operation, sink ? &counting_sink : nullptr);
      if (outcome || delivered || attempt_number >= config.retry.max_attempts || !is_retryable(outcome.error()))
        co_return outcome;
      ++stats.retries;
      tell_retry(operation, outcome.error(), attempt_number + 1);
      asio::steady_timer pause(executor, backoff_delay(config.retry, outcome.error(), attempt_number,
                                                       std::uniform_real_distribution<>(0.0, 1.0)(random)));
      auto [ec] = co_await pause.async_wait(use_tuple);
      if (ec) co_return transport_error(operation, TransportFailure{ec, "waiting to retry"});
    }
  }
};

// ------------------------------------------------------------------ construction

Result<Client> Client::create(asio::any_io_executor executor, ClientConfig config) {
  Error error{errc::invalid_config, "S3 client", "", "", 0, "", "", "", ""};
  auto impl = std::make_unique<Impl>();
  impl->aws_endpoint = config.endpoint.empty();
  impl->aws_public_endpoint = config.endpoint.empty() && config.public_endpoint.empty();
  const std::string url = config.endpoint.empty() ? aws_s3_endpoint(config.scope.region) : config.endpoint;
  auto endpoint = parse_endpoint(url);
  if (!endpoint) {
    error.detail = "endpoint '" + url + "' is not http(s)://host[:port]";
    return error;
  }
  auto public_endpoint = config.public_endpoint.empty() ? endpoint : parse_endpoint(config.public_endpoint);
  if (!public_endpoint) {
    error.detail = "public endpoint '" + config.public_endpoint + "' is not http(s)://host[:port]";
    return error;
  }
  std::optional<asio::ssl::context> tls_context;
  if (endpoint->tls) {
    auto& tls = tls_context.emplace(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    tls.set_default_verify_paths();
    if (!config.ca_file.empty()) tls.load_verify_file(config.ca_file, ec);
    if (ec) {
      error.detail = "cannot read CA file " + config.ca_file + ": " + ec.message();
      return error;
    }
    tls.set_verify_mode(config.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
  }
  std::unique_ptr<CredentialsProvider> provider;
  if (!config.credentials.access_key_id.empty())
    provider = std::make_unique<StaticProvider>(config.credentials);
  else
    provider = default_credentials_chain(executor, config.environment ? config.environment : process_environment_lookup(),
                                         config.scope.region, config.imds_timeout);
  impl->credentials = std::make_shared<CredentialsCache>(executor, std::move(provider),
                                                         [raw = impl.get()](std::string_view line) { raw->log(line); });
  impl->credentials->warm_up();
  impl->connections.emplace(executor, std::move(tls_context), config.connect_timeout, config.max_idle_connections);
  impl->executor = std::move(executor);
  impl->endpoint = *endpoint;
  impl->public_endpoint = *public_endpoint;
  impl->config = std::move(config);
  return Client(std::move(impl));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

void Client::on_retry(RetryObserver observer) { impl_->retry_observer = std::move(observer); }

const ClientConfig& Client::config() const { return impl_->config; }
ClientStats Client::stats() const {
  ClientStats stats = impl_->stats;
  stats.connections_opened = impl_->connections->connections_opened();
  stats.tls_sessions_resumed = impl_->connections->tls_sessions_resumed();
  return stats;
}

// ------------------------------------------------------------------ objects

Client::Task<void> Client::put_object(std::string_view bucket, std::string_view key, std::string_view body,
                                      std::string_view content_type, const UploadOptions* options) {
  auto operation = impl_->data_operation("PutObject", http::verb::put, bucket, key, body, options);
  add_content_type(operation, content_type);
  if (options) std::ranges::move(upload_option_headers(*options, key), std::back_inserter(operation.headers));
  auto response = co_await impl_->execute(std::move(operation));
  if (!response) co_return response.error();
  co_return Result<void>{};
}

Client::Task<ObjectInfo> Client::head_object(std::string_view bucket, std::string_view key) {
  Operation operation{"HeadObject", http::verb::head, bucket, key, {}, {}, {}, {}};
  auto response = co_await impl_->execute(std::move(operation));
  if (!response) co_return response.error();
  co_return object_info(*response);
}

Client::Task<ObjectInfo> Client::get_object(std::string_view bucket, std::string_view key, BodySink sink) {
  Operation operation{"GetObject", http::verb::get, bucket, key, {}, {}, {}, {}};
  auto response = co_await impl_->execute(std::move(operation), std::move(sink));
  if (!response) co_return response.error();
  co_return object_info(*response);
}

Client::Task<void> Client::delete_object(std::string_view bucket, std::string_view key) {
  Operation operation{"DeleteObject", http::verb::delete_, bucket, key, {}, {}, {}, {}};
  auto response = co_await impl_->execute(std::move(operation));
  if (!response) co_return response.error();
  co_return Result<void>{};
}

// ------------------------------------------------------------------ multipart uploads

Client::Task<std::string> Client::create_multipart_upload(std::string_view bucket, std::string_view key,
                                                          std::string_view content_type, const UploadOptions* options) {
  Operation operation{"CreateMultipartUpload", http::verb::post, bucket, key, {{"uploads", ""}}, {}, {}, {}, options};
  add_content_type(operation, content_type);
  if (options) std::ranges::move(upload_option_headers(*options, key), std::back_inserter(operation.headers));
  if (impl_->integrity(options) == PayloadIntegrity::crc32c)
    operation.headers.emplace_back("x-amz-checksum-algorithm", "CRC32C");
  auto response = co_await impl_->execute(operation);
  if (!response) co_return response.error();
  auto upload_id = detail::xml_text(response->body(), "UploadId");
  if (!upload_id || upload_id->empty()) co_return malformed(operation, "no UploadId in the response");
  co_return std::move(*upload_id);
}

Client::Task<CompletedPart> Client::upload_part(std::string_view bucket, std::string_view key,
                                                std::string_view upload_id, int part_number, std::string_view body,
                                                const UploadOptions* options) {
  auto operation = impl_->data_operation("UploadPart", http::verb::put, bucket, key, body, options);
  operation.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}};
  CompletedPart part{part_number, {}, {}};
  if (impl_->integrity(options) == PayloadIntegrity::crc32c)
    part.checksum_crc32c = operation.headers.back().second;
  auto response = co_await impl_->execute(operation);
  if (!response) co_return response.error();
  part.etag = (*response)[http::field::etag];
  if (part.etag.empty()) co_return malformed(operation, "no ETag for part " + std::to_string(part_number));
  co_return part;
}

Client::Task<void> Client::complete_multipart_upload(std::string_view bucket, std::string_view key,
                                                     std::string_view upload_id,
                                                     std::span<const CompletedPart> parts, const UploadOptions* options) {
  const std::string body = complete_multipart_body(parts);
  Operation operation{"CompleteMultipartUpload", http::verb::post, bucket, key,
                      {{"uploadId", std::string(upload_id)}}, {{"content-type", "application/xml"}}, body, {}, options};
  auto response = co_await impl_->execute(std::move(operation));
  if (!response) co_return response.error();
  co_return Result<void>{};
}

Client::Task<void> Client::abort_multipart_upload(std::string_view bucket, std::string_view key,
                                                  std::string_view upload_id, const UploadOptions* options) {
  Operation operation{"AbortMultipartUpload", http::verb::delete_, bucket, key,
                      {{"uploadId", std::string(upload_id)}}, {}, {}, {}, options};
  auto response = co_await impl_->execute(std::move(operation));
  if (!response) co_return response.error();
  co_return Result<void>{};
}

Client::Task<std::vector<MultipartUploadListing>> Client::list_multipart_uploads(std::string_view bucket,
                                                                                 std::string_view prefix) {
  std::vector<MultipartUploadListing> uploads;
  std::string key_marker, upload_id_marker;
  for (;;) {
    Operation operation{"ListMultipartUploads", http::verb::get, bucket, {}, {{"uploads", ""}}, {}, {}, {}};
    if (!prefix.empty()) operation.query.emplace_back("prefix", std::string(prefix));
    if (!key_marker.empty()) operation.query.emplace_back("key-marker", key_marker);
    if (!upload_id_marker.empty()) operation.query.emplace_back("upload-id-marker", upload_id_marker);
    auto response = co_await impl_->execute(operation);
    if (!response) co_return response.error();

    auto parsed = detail::parse_list_uploads_page(response->body());
    if (auto* problem = std::get_if<std::string>(&parsed)) co_return malformed(operation, std::move(*problem));
    auto& page = std::get<detail::UploadListingPage>(parsed);
    std::ranges::move(page.uploads, std::back_inserter(uploads));
    if (page.next_key_marker.empty() && page.next_upload_id_marker.empty()) co_return uploads;
    // A server that hands back the markers it was given would keep this loop asking forever.
    if (page.next_key_marker == key_marker && page.next_upload_id_marker == upload_id_marker)
      co_return malformed(operation, "the listing does not advance");
    key_marker = std::move(page.next_key_marker);
    upload_id_marker = std::move(page.next_upload_id_marker);
  }
}

Client::Task<std::vector<ListedObject>> Client::list_objects(std::string_view bucket, std::string_view prefix,
                                                            int page_size) {
  std::vector<ListedObject> objects;
  std::string continuation_token;
  for (;;) {
    Operation operation{"ListObjectsV2", http::verb::get, bucket, {}, {{"list-type", "2"}}, {}, {}, {}};
    if (!prefix.empty()) operation.query.emplace_back("prefix", std::string(prefix));
    if (page_size > 0) operation.query.emplace_back("max-keys", std::to_string(page_size));
    if (!continuation_token.empty()) operation.query.emplace_back("continuation-token", continuation_token);
    auto response = co_await impl_->execute(operation);
    if (!response) co_return response.error();

    auto parsed = detail::parse_list_objects_page(response->body());
    if (auto* problem = std::get_if<std::string>(&parsed)) co_return malformed(operation, std::move(*problem));
    auto& page = std::get<detail::ObjectListingPage>(parsed);
    std::ranges::move(page.objects, std::back_inserter(objects));
    if (page.continuation_token.empty()) co_return objects;
    // A server that hands back the token it was given would keep this loop asking forever.
    if (page.continuation_token == continuation_token) co_return malformed(operation, "the listing does not advance");
    continuation_token = std::move(page.continuation_token);
  }
}

Result<PresignedUrl> Client::presign_get(std::string_view bucket, std::string_view key,
                                         std::chrono::seconds expires) const {
  auto credentials = impl_->credentials->current();
  if (!credentials) {
    Error error{errc::no_credentials, "presigning GetObject", std::string(bucket), std::string(key), 0, "", "", "", ""};
    error.detail = "no usable credentials at hand";
    return error;
  }
  const auto now = std::chrono::system_clock::now();
  auto lifetime = presigned_lifetime(now, expires, credentials->expiration);
  const Address target = impl_->address(impl_->public_endpoint, impl_->aws_public_endpoint, bucket, key);
  SignableRequest request{"GET", target.path, {}, {{"host", target.endpoint.authority()}}, {}};
  std::string url = presign_url(std::move(request), target.endpoint.origin(), credentials->credentials,
                                {impl_->region_of(bucket), impl_->config.scope.service}, now, lifetime);
  return PresignedUrl{std::move(url), now + lifetime, lifetime < expires};
}

Client::Task<void> Client::check_credentials() {
  auto credentials = co_await impl_->credentials->get();
  if (!credentials) co_return credentials.error();
  co_return Result<void>{};
}

}  // namespace pg2s3::s3
