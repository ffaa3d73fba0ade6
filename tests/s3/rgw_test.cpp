// The S3 client against the real Ceph RGW of scripts/services, which checks every signature.
#include "s3/client.hpp"
#include "s3/multipart_upload.hpp"
#include "tests/support/s3_fault_proxy.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

using namespace pg2s3;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

using test::bucket;
using test::read_object;
using test::rgw_config;

// Keys of one test run never meet those of another.
std::string unique_key(std::string_view name) {
  static const std::string run = std::to_string(std::random_device{}());
  static int counter = 0;
  return "tests/s3/" + run + "-" + std::to_string(++counter) + "/" + std::string(name);
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::minstd_rand random(seed);
  for (auto& c : bytes) c = static_cast<char>(random());
  return bytes;
}

bool upload_listed(asio::io_context& io, s3::Client& client, std::string_view key, const std::string& upload_id) {
  auto uploads = test::run(io, client.list_multipart_uploads(bucket(), key)).value();
  return std::ranges::any_of(uploads, [&](const auto& upload) { return upload.upload_id == upload_id; });
}

// What curl gets for a URL: the HTTP status, and the body into `body`.
int curl(const std::string& url, std::string* body = nullptr) {
  const std::string body_file = test::scratch_file("curl-body");
  const std::string command = "curl -s -o " + body_file + " -w '%{http_code}' '" + url + "'";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  int status = 0;
  REQUIRE(fscanf(pipe, "%d", &status) == 1);
  pclose(pipe);
  if (body) {
    FILE* file = std::fopen(body_file.c_str(), "rb");
    REQUIRE(file);
    body->clear();
    char chunk[65536];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, file)) > 0;) body->append(chunk, n);
    std::fclose(file);
  }
  return status;
}

}  // namespace

TEST_CASE("put, head, get and delete round trip", "[rgw]") {
  auto integrity = GENERATE(s3::PayloadIntegrity::signed_sha256, s3::PayloadIntegrity::crc32c);
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config(integrity)).value();
  // Characters that SigV4's canonical URI must encode the way RGW does.
  const std::string key = unique_key("a b+c~ü=&;,$@.csv");
  const std::string body = pattern(100'000, 1);

  REQUIRE(test::run(io, client.put_object(bucket(), key, body, "text/csv")).has_value());
  auto info = test::run(io, client.head_object(bucket(), key));
  REQUIRE(info.has_value());
  CHECK(info->size == body.size());
  CHECK(info->content_type == "text/csv");
  CHECK(test::run(io, read_object(client, key)).value() == body);

  REQUIRE(test::run(io, client.delete_object(bucket(), key)).has_value());
  auto gone = test::run(io, client.head_object(bucket(), key));
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().http_status == 404);
  CHECK(client.stats().retries == 0);
  CHECK(client.stats().connections_opened == 1);  // one keep-alive connection served them all
}

TEST_CASE("a multipart upload of three 5 MiB parts and a 1-byte tail reads back byte for byte", "[rgw]") {
  auto integrity = GENERATE(s3::PayloadIntegrity::signed_sha256, s3::PayloadIntegrity::crc32c);
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config(integrity)).value();
  const std::string key = unique_key("multipart.bin");
  const std::string parts[] = {pattern(s3::min_part_size, 1), pattern(s3::min_part_size, 2),
                               pattern(s3::min_part_size, 3), "!"};

  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), key, "application/octet-stream")).value();
  auto sent = test::run(io, [&]() -> asio::awaitable<bool> {
    using namespace asio::experimental::awaitable_operators;
    // All four in flight at once; part numbers follow the order of the calls.
    auto [a, b, c, d] = co_await (upload.upload_part(parts[0]) && upload.upload_part(parts[1]) &&
                                  upload.upload_part(parts[2]) && upload.upload_part(parts[3]));
    co_return a && b && c && d;
  }());
  REQUIRE(sent);
  CHECK(upload.bytes_uploaded() == 3 * s3::min_part_size + 1);
  CHECK(client.stats().connections_opened >= 2);
  REQUIRE(test::run(io, upload.complete()).has_value());

  CHECK(test::run(io, read_object(client, key)).value() == parts[0] + parts[1] + parts[2] + parts[3]);
  CHECK_FALSE(upload_listed(io, client, key, upload.upload_id()));
  test::run(io, client.delete_object(bucket(), key)).value();
}

TEST_CASE("an aborted upload is gone from ListMultipartUploads and aborts only once", "[rgw]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string key = unique_key("aborted.bin");
  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), key)).value();
  const std::string part = pattern(s3::min_part_size, 4);
  REQUIRE(test::run(io, upload.upload_part(part)).has_value());
  CHECK(upload_listed(io, client, key, upload.upload_id()));

  REQUIRE(test::run(io, upload.abort()).has_value());
  CHECK_FALSE(upload_listed(io, client, key, upload.upload_id()));
  const auto requests = client.stats().requests;
  CHECK(test::run(io, upload.abort()).has_value());
  CHECK(client.stats().requests == requests);  // the second abort sent nothing
  auto late = test::run(io, upload.upload_part(part));
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().code == s3::errc::upload_not_open);
  CHECK_FALSE(test::run(io, client.head_object(bucket(), key)).has_value());
}

TEST_CASE("an upload someone else aborted first counts as aborted", "[rgw]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string key = unique_key("aborted-elsewhere.bin");
  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), key)).value();
  REQUIRE(test::run(io, client.abort_multipart_upload(bucket(), key, upload.upload_id())).has_value());
  CHECK(test::run(io, upload.abort()).has_value());
  CHECK_FALSE(upload_listed(io, client, key, upload.upload_id()));
}

TEST_CASE("ListObjectsV2 pages through a prefix, and its keys delete their objects", "[rgw][list]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string base = unique_key("listing");
  const std::string prefix = base + "/";
  // Sorted as S3 lists them; the space and '+' must come back as they went, for the DELETE to find them.
  const std::vector<std::pair<std::string, std::size_t>> under = {
      {prefix + "a.csv", 1}, {prefix + "b c+d.csv", 22}, {prefix + "sub/e.csv", 333}, {prefix + "x&y<z>.csv", 4444}};
  const std::string beside = base + "-beside.csv";  // starts with the prefix's characters but for its '/'
  for (const auto& [key, size] : under) REQUIRE(test::run(io, client.put_object(bucket(), key, pattern(size, 7))).has_value());
  REQUIRE(test::run(io, client.put_object(bucket(), beside, "beside")).has_value());

  const auto requests = client.stats().requests;
  auto listed = test::run(io, client.list_objects(bucket(), prefix, 2)).value();
  CHECK(client.stats().requests - requests >= 2);  // two keys a page
  std::vector<std::pair<std::string, std::size_t>> seen;
  for (const auto& object : listed) seen.emplace_back(object.key, object.size);
  CHECK(seen == under);

  for (const auto& object : listed) REQUIRE(test::run(io, client.delete_object(bucket(), object.key)).has_value());
  CHECK(test::run(io, client.list_objects(bucket(), prefix)).value().empty());
  CHECK(test::run(io, client.head_object(bucket(), beside)).value().size == 6);
  CHECK(test::run(io, client.list_objects(bucket(), beside)).value().size() == 1);
  REQUIRE(test::run(io, client.delete_object(bucket(), beside)).has_value());
  CHECK(test::run(io, client.list_objects(bucket(), base)).value().empty());
}

TEST_CASE("listing a bucket that does not exist names ListObjectsV2 and NoSuchBucket", "[rgw][list]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string missing = "pg2s3-missing-" + std::to_string(std::random_device{}());
  auto listed = test::run(io, client.list_objects(missing, "any/"));
  REQUIRE_FALSE(listed.has_value());
  CHECK(listed.error().http_status == 404);
  CHECK(listed.error().s3_code == "NoSuchBucket");
  CHECK_THAT(listed.error().message(), Catch::StartsWith("ListObjectsV2 s3://" + missing + "/: HTTP 404 NoSuchBucket"));
  CHECK(client.stats().retries == 0);
}

TEST_CASE("parts under 5 MiB give EntityTooSmall as an error value", "[rgw]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string key = unique_key("small-parts.bin");
  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), key)).value();
  const std::string small = pattern(1024 * 1024, 5);
  REQUIRE(test::run(io, upload.upload_part(small)).has_value());
  REQUIRE(test::run(io, upload.upload_part(small)).has_value());

  auto completed = test::run(io, upload.complete());
  REQUIRE_FALSE(completed.has_value());
  CHECK(completed.error().http_status == 400);
  CHECK(completed.error().s3_code == "EntityTooSmall");
  CHECK_THAT(completed.error().message(), Catch::StartsWith("CompleteMultipartUpload s3://" + bucket() + "/" + key +
                                                            ": HTTP 400 EntityTooSmall"));
  CHECK(client.stats().retries == 0);
  REQUIRE(test::run(io, upload.abort()).has_value());
  CHECK_FALSE(upload_listed(io, client, key, upload.upload_id()));
}

TEST_CASE("complete() refuses without a request while a part has failed", "[rgw]") {
  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), rgw_config()).value();
  const std::string key = unique_key("failed-part.bin");
  auto upload = test::run(io, s3::MultipartUpload::create(client, bucket(), key)).value();
  // Aborted behind the upload's back, so that its next part fails.
  REQUIRE(test::run(io, client.abort_multipart_upload(bucket(), key, upload.upload_id())).has_value());
  auto part = test::run(io, upload.upload_part("x"));
  REQUIRE_FALSE(part.has_value());
  CHECK(part.error().http_status == 404);

  const auto requests = client.stats().requests;
  auto completed = test::run(io, upload.complete());
  REQUIRE_FALSE(completed.has_value());
  CHECK(completed.error().code == s3::errc::incomplete_parts);
  CHECK(client.stats().requests == requests);
  CHECK_FALSE(test::run(io, client.head_object(bucket(), key)).has_value());
}

TEST_CASE("a wrong secret gives SignatureDoesNotMatch once and is not retried", "[rgw]") {
  asio::io_context io;
  auto config = rgw_config();
  config.credentials.secret_access_key = "not-the-secret";
  auto client = s3::Client::create(io.get_executor(), config).value();
  auto put = test::run(io, client.put_object(bucket(), unique_key("denied"), "x"));
  REQUIRE_FALSE(put.has_value());
  CHECK(put.error().http_status == 403);
  CHECK(put.error().s3_code == "SignatureDoesNotMatch");
  CHECK_THAT(put.error().message(), !Catch::Contains("not-the-secret"));
  CHECK(client.stats().requests == 1);
  CHECK(client.stats().retries == 0);
}

TEST_CASE("a load balancer's 502, 504 and 429 to CreateMultipartUpload or UploadPart are retried", "[rgw][retry]") {
  using test::LoadBalancerBody;
  const auto operation = GENERATE(test::S3Operation::create_multipart_upload, test::S3Operation::upload_part);
  const auto [status, body] = GENERATE(table<unsigned, LoadBalancerBody>(
      {{502, LoadBalancerBody::html}, {504, LoadBalancerBody::html}, {429, LoadBalancerBody::empty}}));
  INFO((operation == test::S3Operation::upload_part ? "UploadPart " : "CreateMultipartUpload ") << status);
  test::S3FaultProxy proxy(test::service_setting("PG2S3_S3_ENDPOINT"));
  asio::io_context io;
  auto config = rgw_config();
  config.endpoint = proxy.endpoint();
  config.retry.max_attempts = 3;
  auto client = s3::Client::create(io.get_executor(), config).value();
  const std::string key = unique_key("behind-a-load-balancer.bin");
  const std::string parts[] = {pattern(s3::min_part_size, 5), "tail"};

  proxy.answer_status(operation, status, 2, body);
  auto created = test::run(io, s3::MultipartUpload::create(client, bucket(), key));
  INFO((created ? std::string() : created.error().message()));
  REQUIRE(created.has_value());
  auto& upload = *created;
  for (const auto& part : parts) {
    auto sent = test::run(io, upload.upload_part(part));
    INFO((sent ? std::string() : sent.error().message()));
    REQUIRE(sent.has_value());
  }
  REQUIRE(test::run(io, upload.complete()).has_value());

  CHECK(proxy.status_answers_sent() == 2);
  CHECK(client.stats().retries == 2);
  CHECK(test::run(io, read_object(client, key)).value() == parts[0] + parts[1]);
  test::run(io, client.delete_object(bucket(), key)).value();
}

TEST_CASE("a presigned URL downloads with curl and a tampered or expired one gets 403", "[rgw]") {
  asio::io_context io;
  const auto config = rgw_config();
  auto client = s3::Client::create(io.get_executor(), config).value();
  const std::string key = unique_key("presigned file.csv");
  const std::string body = "id,name\n1,\"a, b\"\n";
  REQUIRE(test::run(io, client.put_object(bucket(), key, body, "text/csv")).has_value());

  const std::string url = client.presign_get(bucket(), key, 300s).value().url;
  std::string downloaded;
  CHECK(curl(url, &downloaded) == 200);
  CHECK(downloaded == body);

  std::string tampered = url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  CHECK(curl(tampered) == 403);

  const auto endpoint = s3::parse_endpoint(config.endpoint).value();
  s3::SignableRequest request{"GET", "/" + bucket() + "/" + key, {}, {{"host", endpoint.authority()}}, {}};
  const std::string expired = s3::presign_url(request, endpoint.origin(), config.credentials, config.scope,
                                              std::chrono::system_clock::now() - 2h, 60s);
  CHECK(curl(expired) == 403);
  test::run(io, client.delete_object(bucket(), key)).value();
}

TEST_CASE("HTTPS works with the CA file and is refused without it", "[rgw][tls]") {
  asio::io_context io;
  auto config = rgw_config();
  config.endpoint = test::service_setting("PG2S3_TEST_S3_TLS_ENDPOINT");
  const std::string key = unique_key("tls.csv");

  SECTION("trusted through the CA file") {
    config.ca_file = test::service_setting("PG2S3_TEST_S3_CA_FILE");
    auto client = s3::Client::create(io.get_executor(), config).value();
    REQUIRE(test::run(io, client.put_object(bucket(), key, "over TLS")).has_value());
    CHECK(test::run(io, read_object(client, key)).value() == "over TLS");
    test::run(io, client.delete_object(bucket(), key)).value();
  }
  SECTION("a new connection offers the TLS session of the one before, and works whether resumed or not") {
    config.ca_file = test::service_setting("PG2S3_TEST_S3_CA_FILE");
    config.max_idle_connections = 0;  // every request on a connection of its own
    auto client = s3::Client::create(io.get_executor(), config).value();
    REQUIRE(test::run(io, client.put_object(bucket(), key, "resumed")).has_value());
    for (int i = 0; i < 2; ++i) CHECK(test::run(io, client.head_object(bucket(), key)).value().size == 7);
    // Three connections, each offered its predecessor's session: RGW's TLS frontend grants none that can
    // be resumed, so here each handshake is a full one, and offering must not break them.
    CHECK(client.stats().connections_opened == 3);
    test::run(io, client.delete_object(bucket(), key)).value();
  }
  SECTION("refused without it: a clear certificate error, not retried, nothing stored") {
    auto client = s3::Client::create(io.get_executor(), config).value();
    auto put = test::run(io, client.put_object(bucket(), key, "must not arrive"));
    REQUIRE_FALSE(put.has_value());
    CHECK(put.error().http_status == 0);
    CHECK_THAT(put.error().message(), Catch::Contains("not trusted: self-signed certificate"));
    CHECK(client.stats().retries == 0);

    auto plain = s3::Client::create(io.get_executor(), rgw_config()).value();
    CHECK_FALSE(test::run(io, plain.head_object(bucket(), key)).has_value());
  }
  SECTION("a CA file that cannot be read is a configuration error") {
    config.ca_file = "/nonexistent/ca.pem";
    auto client = s3::Client::create(io.get_executor(), config);
    REQUIRE_FALSE(client.has_value());
    CHECK(client.error().code == s3::errc::invalid_config);
    CHECK_THAT(client.error().message(), Catch::Contains("/nonexistent/ca.pem"));
  }
}
