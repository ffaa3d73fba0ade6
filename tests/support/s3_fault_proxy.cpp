#include "tests/support/s3_fault_proxy.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

namespace pg2s3::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using async::use_tuple;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

enum class Fault { none, slow_down, load_balancer_answer, drop, hang, lose_answer };

struct Decision {
  Fault fault = Fault::none;
  unsigned status = 0;  // of a load balancer's answer
  LoadBalancerBody body{};
};

Response slow_down_response(unsigned version) {
  Response response(http::status::service_unavailable, version);
  response.set(http::field::content_type, "application/xml");
  response.body() = R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>)"
                    R"(<Message>Please reduce your request rate.</Message><RequestId>s3-fault-proxy</RequestId></Error>)";
  response.prepare_payload();
  return response;
}

// A page as nginx or an AWS load balancer sends it, or nothing: no S3 <Error> for the client to read.
Response load_balancer_response(unsigned status, LoadBalancerBody body, const Request& request) {
  Response response(static_cast<http::status>(status), request.version());
  if (body == LoadBalancerBody::html) {
    const std::string title = std::to_string(status) + " " + std::string(response.reason());
    response.set(http::field::content_type, "text/html");
    response.body() = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
                      "</h1></center>\r\n</body>\r\n</html>\r\n";
  }
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

bool is_create(const Request& request) {
  return request.method() == http::verb::post && request.target().find("?uploads") != std::string_view::npos;
}

bool is_upload_part(const Request& request) {
  return request.method() == http::verb::put && request.target().find("partNumber=") != std::string_view::npos;
}

bool is_complete(const Request& request) {
  return request.method() == http::verb::post && request.target().find("uploadId=") != std::string_view::npos;
}

bool is_abort(const Request& request) {
  return request.method() == http::verb::delete_ && request.target().find("uploadId=") != std::string_view::npos;
}

bool is_operation(const Request& request, S3Operation operation) {
  switch (operation) {
    case S3Operation::create_multipart_upload: return is_create(request);
    case S3Operation::upload_part: return is_upload_part(request);
    case S3Operation::complete_multipart_upload: return is_complete(request);
  }
  return false;
}

// "/bucket/key" and the uploadId of a CompleteMultipartUpload's target.
std::pair<std::string, std::string> path_and_upload_id(std::string_view target) {
  const auto query = target.find('?');
  const auto id_at = target.find("uploadId=", query) + std::string_view("uploadId=").size();
  const auto id_end = target.find('&', id_at);
  return {std::string(target.substr(0, query)), std::string(target.substr(id_at, id_end - id_at))};
}

tcp::endpoint endpoint_of(const std::string& url) {
  static const std::regex form(R"(http://([0-9.]+):([0-9]+)/?)");
  std::smatch parts;
  if (!std::regex_match(url, parts, form)) throw std::invalid_argument("S3FaultProxy needs http://IP:PORT, not " + url);
  return {asio::ip::make_address(parts[1].str()), static_cast<unsigned short>(std::stoi(parts[2].str()))};
}

}  // namespace

struct S3FaultProxy::State {
  explicit State(tcp::endpoint upstream) : upstream(upstream) {}

  asio::io_context io;  // first: destroyed last, after every socket of it
  tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  tcp::endpoint upstream;
  std::thread thread;

  std::mutex mutex;  // guards everything below
  int slow_downs_left = 0;
  bool pass_next_part = false;  // slow-downs go to every other part
  int parts_until_away = -1;  // -1: not going away
  int away_count = 0;         // requests still to drop once away; negative: until come_back()
  bool away = false;
  int slow_downs_sent = 0;
  int requests_dropped = 0;
  int aborts_forwarded = 0;
  bool hanging = false;
  std::chrono::milliseconds part_delay{0};
  int parts_now = 0;
  int parts_at_once = 0;
  int parts_forwarded = 0;
  int complete_answers_to_lose = 0;
  int complete_answers_lost = 0;
  S3Operation answered_operation{};
  unsigned answer_status = 0;
  LoadBalancerBody answer_body{};
  int status_answers_left = 0;
  int status_answers_sent = 0;
  double random_failure_probability = 0;
  std::mt19937 random;
  S3FaultProxy::RandomFaults random_faults;
  std::map<std::string, std::set<std::string>> completed_uploads;

  Decision decide(const Request& request) {
    std::lock_guard lock(mutex);
    if (hanging) return {Fault::hang};
    if (status_answers_left > 0 && is_operation(request, answered_operation)) {
      --status_answers_left;
      ++status_answers_sent;
      return {Fault::load_balancer_answer, answer_status, answer_body};
    }
    if (random_failure_probability > 0 && std::bernoulli_distribution(random_failure_probability)(random))
      return random_fault();
    if (is_complete(request) && complete_answers_to_lose > 0) {
      --complete_answers_to_lose;
      ++complete_answers_lost;
      return {Fault::lose_answer};
    }
    if (away) {
      ++requests_dropped;
      if (away_count > 0 && --away_count == 0) away = false;
      return {Fault::drop};
    }
    if (!is_upload_part(request)) return {};
    if (parts_until_away > 0 && --parts_until_away == 0) {
      parts_until_away = -1;
      away = true;
    }
    if (slow_downs_left == 0) return {};
    if (pass_next_part) {
      pass_next_part = false;
      return {};
    }
    pass_next_part = true;
    --slow_downs_left;
    ++slow_downs_sent;
    return {Fault::slow_down};
  }

  // One of the faults of fail_at_random(), each as likely; the mutex is held.
  Decision random_fault() {
    switch (std::uniform_int_distribution(0, 3)(random)) {
      case 0: ++random_faults.slow_downs; return {Fault::slow_down};
      case 1: ++random_faults.bad_gateways; return {Fault::load_balancer_answer, 502, LoadBalancerBody::html};
      case 2: ++random_faults.internal_errors; return {Fault::load_balancer_answer, 500, LoadBalancerBody::empty};
      default: ++random_faults.dropped; return {Fault::drop};
    }
  }

  asio::awaitable<void> accept_connections() {
    for (;;) {
      auto [ec, client] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(io, serve(std::move(client)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket client) {
    boost::beast::flat_buffer from_client, from_upstream;
    std::optional<tcp::socket> upstream_socket;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1024 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(client, from_client, parser, use_tuple);
      if (ec) co_return;
      Request request = parser.release();
      const Decision decision = decide(request);
      const Fault fault = decision.fault;
      if (fault == Fault::drop) co_return;  // closes the connection without an answer
      if (fault == Fault::hang) {  // holds the connection and never answers
        asio::steady_timer never(io, asio::steady_timer::time_point::max());
        co_await never.async_wait(use_tuple);
        co_return;
      }
      if (is_upload_part(request) && fault == Fault::none) co_await delay_part();
      Response response;
      if (fault == Fault::slow_down) {
        response = slow_down_response(request.version());
      } else if (fault == Fault::load_balancer_answer) {
        response = load_balancer_response(decision.status, decision.body, request);
      } else {
        auto forwarded = co_await forward(request, upstream_socket, from_upstream);
        if (!forwarded || fault == Fault::lose_answer) co_return;
        response = std::move(*forwarded);
      }
      const bool keep_alive = response.keep_alive();
      auto [write_ec, written] = co_await http::async_write(client, response, use_tuple);
      if (write_ec || !keep_alive) co_return;
    }
  }

  // Holds an UploadPart for the configured delay, as a slow link would, counting the parts held at once.
  asio::awaitable<void> delay_part() {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex);
      delay = part_delay;
      parts_at_once = std::max(parts_at_once, ++parts_now);
      ++parts_forwarded;
    }
    asio::steady_timer wait(io, delay);
    co_await wait.async_wait(use_tuple);
    std::lock_guard lock(mutex);
    --parts_now;
  }

  // RGW's answer, or nothing when it could not be had (then the client's connection is closed).
  asio::awaitable<std::optional<Response>> forward(const Request& request, std::optional<tcp::socket>& upstream_socket,
                                                   boost::beast::flat_buffer& buffer) {
    if (!upstream_socket) {
      upstream_socket.emplace(io);
      auto [ec] = co_await upstream_socket->async_connect(upstream, use_tuple);
      if (ec) co_return std::nullopt;
    }
    auto [write_ec, written] = co_await http::async_write(*upstream_socket, request, use_tuple);
    if (write_ec) co_return std::nullopt;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(request.method() == http::verb::head);
    auto [read_ec, read] = co_await http::async_read(*upstream_socket, buffer, parser, use_tuple);
    if (read_ec) co_return std::nullopt;
    Response response = parser.release();
    if (is_abort(request) && response.result_int() / 100 == 2) {
      std::lock_guard lock(mutex);
      ++aborts_forwarded;
    }
    // RGW answers a failed CompleteMultipartUpload 200 too, with an <Error> body.
    if (is_complete(request) && response.result_int() / 100 == 2 &&
        response.body().find("<Error>") == std::string::npos) {
      auto [path, upload_id] = path_and_upload_id(request.target());
      std::lock_guard lock(mutex);
      completed_uploads[path].insert(upload_id);
    }
    co_return response;
  }
};

S3FaultProxy::S3FaultProxy(const std::string& upstream_endpoint)
    : state_(std::make_unique<State>(endpoint_of(upstream_endpoint))) {
  asio::co_spawn(state_->io, state_->accept_connections(), asio::detached);
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

S3FaultProxy::~S3FaultProxy() {
  state_->io.stop();
  state_->thread.join();
}

std::string S3FaultProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(state_->acceptor.local_endpoint().port());
}

void S3FaultProxy::slow_down_parts(int count) {
  std::lock_guard lock(state_->mutex);
  state_->slow_downs_left = count;
  state_->pass_next_part = false;
}

void S3FaultProxy::go_away(int after_parts, int count) {
  std::lock_guard lock(state_->mutex);
  state_->away = after_parts == 0;
  state_->parts_until_away = after_parts == 0 ? -1 : after_parts;
  state_->away_count = count;
}

void S3FaultProxy::come_back() {
  std::lock_guard lock(state_->mutex);
  state_->away = false;
  state_->parts_until_away = -1;
}

int S3FaultProxy::slow_downs_sent() const {
  std::lock_guard lock(state_->mutex);
  return state_->slow_downs_sent;
}

void S3FaultProxy::answer_status(S3Operation operation, unsigned status, int count, LoadBalancerBody body) {
  std::lock_guard lock(state_->mutex);
  state_->answered_operation = operation;
  state_->answer_status = status;
  state_->answer_body = body;
  state_->status_answers_left = count;
}

int S3FaultProxy::status_answers_sent() const {
  std::lock_guard lock(state_->mutex);
  return state_->status_answers_sent;
}

void S3FaultProxy::hang() {
  std::lock_guard lock(state_->mutex);
  state_->hanging = true;
}

void S3FaultProxy::lose_complete_answers(int count) {
  std::lock_guard lock(state_->mutex);
  state_->complete_answers_to_lose = count;
}

int S3FaultProxy::complete_answers_lost() const {
  std::lock_guard lock(state_->mutex);
  return state_->complete_answers_lost;
}

void S3FaultProxy::delay_parts(std::chrono::milliseconds delay) {
  std::lock_guard lock(state_->mutex);
  state_->part_delay = delay;
}

int S3FaultProxy::parts_at_once() const {
  std::lock_guard lock(state_->mutex);
  return state_->parts_at_once;
}

int S3FaultProxy::parts_forwarded() const {
  std::lock_guard lock(state_->mutex);
  return state_->parts_forwarded;
}

int S3FaultProxy::requests_dropped() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests_dropped;
}

int S3FaultProxy::aborts_forwarded() const {
  std::lock_guard lock(state_->mutex);
  return state_->aborts_forwarded;
}

void S3FaultProxy::fail_at_random(double probability, unsigned seed) {
  std::lock_guard lock(state_->mutex);
  state_->random_failure_probability = probability;
  state_->random.seed(seed);
}

S3FaultProxy::RandomFaults S3FaultProxy::random_faults() const {
  std::lock_guard lock(state_->mutex);
  return state_->random_faults;
}

std::map<std::string, std::set<std::string>> S3FaultProxy::completed_uploads() const {
  std::lock_guard lock(state_->mutex);
  return state_->completed_uploads;
}

}  // namespace pg2s3::test
