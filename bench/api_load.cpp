// Starts N exports at once through the control API of a running `pg2s3 serve`, polls each one's status every
// POLL_MS milliseconds until all are final, and prints the figures as JSON: wall time, bytes, final
// statuses, and the latency of every status request (p50, p99, max).
//   api_load HOST:PORT DATASET N [POLL_MS]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
  std::vector<double> latencies_ms;  // of every status request
  std::map<std::string, int> final_statuses;
  std::uint64_t bytes = 0;
  Clock::time_point last_end{};
  int failures = 0;  // requests that got no answer, or a status other than expected
};

// One keep-alive connection to the API, used by one job's watcher.
class ApiConnection {
 public:
  explicit ApiConnection(asio::any_io_executor executor) : stream_(executor) {}

  asio::awaitable<void> connect(const tcp::endpoint& server) { co_await stream_.async_connect(server, asio::use_awaitable); }

  asio::awaitable<http::response<http::string_body>> exchange(http::verb method, const std::string& target) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "pg2s3");
    request.keep_alive(true);
    request.prepare_payload();
    co_await http::async_write(stream_, request, asio::use_awaitable);
    http::response<http::string_body> response;
    co_await http::async_read(stream_, buffer_, response, asio::use_awaitable);
    co_return response;
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

std::string text(const json::object& object, const char* field) {
  const auto* value = object.if_contains(field);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

asio::awaitable<void> watch_one(tcp::endpoint server, std::string dataset, std::chrono::milliseconds poll, Figures& figures) {
  ApiConnection api(co_await asio::this_coro::executor);
  co_await api.connect(server);
  const auto started = co_await api.exchange(http::verb::post, "/exports/" + dataset);
  if (started.result_int() != 202) {
    ++figures.failures;
    std::cerr << "api_load: POST answered " << started.result_int() << ": " << started.body() << "\n";
    co_return;
  }
  const std::string id = text(json::parse(started.body()).as_object(), "jobId");
  asio::steady_timer tick(co_await asio::this_coro::executor);
  auto next = Clock::now();
  for (;;) {
    next += poll;
    tick.expires_at(next);
    co_await tick.async_wait(asio::use_awaitable);
    const auto asked = Clock::now();
    const auto answer = co_await api.exchange(http::verb::get, "/exports/" + id);
    figures.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - asked).count());
    if (answer.result_int() != 200) {
      ++figures.failures;
      co_return;
    }
    const auto status = json::parse(answer.body()).as_object();
    const std::string state = text(status, "status");
    if (state == "PENDING" || state == "RUNNING") continue;
    ++figures.final_statuses[state];
    figures.bytes += status.at("bytesUploaded").to_number<std::uint64_t>();
    figures.last_end = std::max(figures.last_end, Clock::now());
    co_return;
  }
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: api_load HOST:PORT DATASET N [POLL_MS]\n";
    return 2;
  }
  const std::string address = argv[1];
  const auto colon = address.rfind(':');
  const tcp::endpoint server(asio::ip::make_address(address.substr(0, colon)),
                             static_cast<unsigned short>(std::stoi(address.substr(colon + 1))));
  const int exports = std::stoi(argv[3]);
  const std::chrono::milliseconds poll(argc > 4 ? std::stoi(argv[4]) : 50);

  asio::io_context io;
  Figures figures;
  const auto start = Clock::now();
  for (int i = 0; i < exports; ++i)
    asio::co_spawn(io, watch_one(server, argv[2], poll, figures), [&](std::exception_ptr failure) {
      if (!failure) return;
      ++figures.failures;
      try { std::rethrow_exception(failure); } catch (const std::exception& e) { std::cerr << "api_load: " << e.what() << "\n"; }
    });
  io.run();

  json::object statuses;
  for (const auto& [status, count] : figures.final_statuses) statuses[status] = count;
  const double wall = std::chrono::duration<double>(figures.last_end - start).count();
  std::cout << json::serialize(json::object{
                   {"exports", exports},
                   {"wall_s", wall},
                   {"bytes", figures.bytes},
                   {"statuses", statuses},
                   {"failures", figures.failures},
                   {"polls", figures.latencies_ms.size()},
                   {"poll_p50_ms", percentile(figures.latencies_ms, 0.50)},
                   {"poll_p99_ms", percentile(figures.latencies_ms, 0.99)},
                   {"poll_max_ms", percentile(figures.latencies_ms, 1.0)}})
            << "\n";
  return figures.failures == 0 ? 0 : 1;
}
