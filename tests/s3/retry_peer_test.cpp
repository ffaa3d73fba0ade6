// The client's retries against a scripted loopback HTTP peer: what is retried, what is not, and how often.
#include "s3/client.hpp"

#include "async/cancellation.hpp"
#include "tests/support/run.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>

using namespace pg2s3;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

using pg2s3::async::use_tuple;

struct Reply {
  std::string bytes;
  bool close_after = false;  // hang up after writing, whatever the reply said
};

Reply respond(int status, std::string body = {}, std::string extra_headers = {}) {
  return {"HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nETag: \"etag\"\r\nx-amz-request-id: req-" + std::to_string(status) + "\r\n" + extra_headers +
              "\r\n" + body,
          false};
}

std::string error_xml(std::string code) { return "<Error><Code>" + code + "</Code><Message></Message></Error>"; }

// Answers each request it reads with the next reply of its script, then stops listening.
class ScriptedPeer {
 public:
  ScriptedPeer(asio::io_context& io, std::vector<Reply> script)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), script_(std::move(script)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::size_t requests() const { return requests_; }
  const std::vector<std::string>& authorizations() const { return authorizations_; }  // of every request read

  // Runs the client's side of a test, then hangs up so that the io_context runs out of work.
  template <class T>
  T run(asio::io_context& io, asio::awaitable<T> client_side) {
    return test::run(io, [&]() -> asio::awaitable<T> {
      T outcome = co_await std::move(client_side);
      stop();
      co_return outcome;
    }());
  }

 private:
  void stop() {
    acceptor_.close();
    if (socket_) socket_->close();
  }

  asio::awaitable<void> serve() {
    while (requests_ < script_.size()) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      socket_ = &socket;
      boost::beast::flat_buffer buffer;
      while (requests_ < script_.size()) {
        http::request<http::string_body> request;
        auto [read_ec, n] = co_await http::async_read(socket, buffer, request, use_tuple);
        if (read_ec) break;
        authorizations_.emplace_back(request[http::field::authorization]);
        const Reply& reply = script_[requests_++];
        co_await asio::async_write(socket, asio::buffer(reply.bytes), use_tuple);
        if (reply.close_after) break;
      }
      socket_ = nullptr;
    }
  }

  tcp::acceptor acceptor_;
  tcp::socket* socket_ = nullptr;  // the connection being served
  std::vector<Reply> script_;
  std::size_t requests_ = 0;
  std::vector<std::string> authorizations_;
};

s3::Client client_for(asio::io_context& io, const ScriptedPeer& peer, int max_attempts = 5) {
  s3::ClientConfig config;
  config.endpoint = peer.endpoint();
  config.credentials = {"AKID", "secret", ""};
  config.retry = {max_attempts, 1ms, 5ms};
  return s3::Client::create(io.get_executor(), config).value();
}

}  // namespace

TEST_CASE("503 SlowDown twice then 200: the request succeeds on the third attempt", "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(503, error_xml("SlowDown")), respond(503, error_xml("SlowDown")), respond(200)});
  auto client = client_for(io, peer);
  auto put = peer.run(io, client.put_object("bucket", "key", "data"));
  CHECK(put.has_value());
  CHECK(peer.requests() == 3);
  CHECK(client.stats().retries == 2);
}

TEST_CASE("a connection closed mid-response is retried on a new connection", "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", true}, respond(200)});
  auto client = client_for(io, peer);
  auto part = peer.run(io, client.upload_part("bucket", "key", "upload", 1, "data"));
  REQUIRE(part.has_value());
  CHECK(part->etag == "\"etag\"");
  CHECK(peer.requests() == 2);
  CHECK(client.stats().retries == 1);
  CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("400 is final: one request and the S3 code kept", "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(400, error_xml("InvalidArgument")), respond(200)});  // the 200 is never asked for
  auto client = client_for(io, peer);
  auto put = peer.run(io, client.put_object("bucket", "key", "data"));
  REQUIRE_FALSE(put.has_value());
  CHECK(put.error().http_status == 400);
  CHECK(put.error().s3_code == "InvalidArgument");
  CHECK(put.error().request_id == "req-400");
  CHECK(put.error().message() == "PutObject s3://bucket/key: HTTP 400 InvalidArgument (request id req-400)");
  CHECK(peer.requests() == 1);
  CHECK(client.stats().retries == 0);
}

TEST_CASE("a 200 whose body is an <Error> is an error and InternalError is retried", "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(200, error_xml("InternalError")),
                         respond(200, "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>")});
  auto client = client_for(io, peer);
  const s3::CompletedPart parts[] = {{1, "\"etag\"", ""}};
  auto complete = peer.run(io, client.complete_multipart_upload("bucket", "key", "upload", parts));
  CHECK(complete.has_value());
  CHECK(peer.requests() == 2);
  CHECK(client.stats().retries == 1);
}

TEST_CASE("attempts are bounded", "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(503), respond(503), respond(503)});
  auto client = client_for(io, peer, 3);
  auto put = peer.run(io, client.put_object("bucket", "key", "data"));
  REQUIRE_FALSE(put.has_value());
  CHECK(put.error().http_status == 503);
  CHECK(peer.requests() == 3);
}

TEST_CASE("keep-alive connections are reused and one the server dropped is replaced without a retry",
          "[retry-peer]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(200), {respond(200).bytes, true}, respond(200)});
  auto client = client_for(io, peer);
  auto all_succeeded = peer.run(io, [&]() -> asio::awaitable<bool> {
    auto first = co_await client.put_object("bucket", "a", "1");
    auto second = co_await client.put_object("bucket", "b", "2");  // same connection; the peer then hangs up
    auto third = co_await client.put_object("bucket", "c", "3");   // finds it closed, opens another
    co_return first && second && third;
  }());
  CHECK(all_succeeded);
  CHECK(peer.requests() == 3);
  CHECK(client.stats().retries == 0);
  CHECK(client.stats().connections_opened == 2);
}

TEST_CASE("a bucket in another region: retried once there, remembered for later requests", "[retry-peer][region]") {
  asio::io_context io;
  const std::string malformed = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is "
                                "wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>";
  ScriptedPeer peer(io, {respond(400, malformed), respond(200), respond(200)});
  auto client = client_for(io, peer);
  auto both = peer.run(io, [&]() -> asio::awaitable<bool> {
    auto first = co_await client.put_object("bucket", "a", "1");
    auto second = co_await client.put_object("bucket", "b", "2");
    co_return first && second;
  }());
  CHECK(both);
  REQUIRE(peer.authorizations().size() == 3);
  CHECK_THAT(peer.authorizations()[0], Catch::Contains("/us-east-1/s3/aws4_request"));
  CHECK_THAT(peer.authorizations()[1], Catch::Contains("/eu-west-1/s3/aws4_request"));
  CHECK_THAT(peer.authorizations()[2], Catch::Contains("/eu-west-1/s3/aws4_request"));
  CHECK(client.stats().retries == 0);
}

TEST_CASE("301 PermanentRedirect names the region in x-amz-bucket-region; a second wrong answer is final",
          "[retry-peer][region]") {
  asio::io_context io;
  const std::string redirect = "<Error><Code>PermanentRedirect</Code><Message></Message></Error>";
  ScriptedPeer peer(io, {respond(301, redirect, "x-amz-bucket-region: ap-south-1\r\n"),
                         respond(301, redirect, "x-amz-bucket-region: ap-south-1\r\n")});
  auto client = client_for(io, peer);
  auto put = peer.run(io, client.put_object("bucket", "a", "1"));
  REQUIRE_FALSE(put.has_value());
  CHECK(put.error().http_status == 301);
  CHECK(peer.requests() == 2);
  CHECK_THAT(peer.authorizations()[1], Catch::Contains("/ap-south-1/s3/aws4_request"));
}

TEST_CASE("x-amz-expected-bucket-owner is signed on every request to the bucket, an upload's own first",
          "[retry-peer][upload-options]") {
  asio::io_context io;
  ScriptedPeer peer(io, {respond(200, "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"),
                         respond(200)});
  s3::ClientConfig config;
  config.endpoint = peer.endpoint();
  config.credentials = {"AKID", "secret", ""};
  config.expected_bucket_owner = "111122223333";
  auto client = s3::Client::create(io.get_executor(), config).value();
  s3::UploadOptions options;
  options.expected_bucket_owner = "444455556666";
  auto both = peer.run(io, [&]() -> asio::awaitable<bool> {
    auto listed = co_await client.list_multipart_uploads("bucket");
    auto part = co_await client.upload_part("bucket", "key", "upload", 1, "data", &options);
    co_return listed && part;
  }());
  CHECK(both);
  REQUIRE(peer.authorizations().size() == 2);
  for (const auto& authorization : peer.authorizations())
    CHECK_THAT(authorization, Catch::Contains(";x-amz-expected-bucket-owner"));
}
