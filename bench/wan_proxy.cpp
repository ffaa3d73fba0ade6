// A TCP relay that makes loopback look like one S3 connection across a region: each connection's upload is
// paced to a bandwidth, and each new connection waits a round trip before it is relayed.
//   wan_proxy LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT MEGABYTES_PER_SECOND CONNECT_DELAY_MS
// Runs until SIGINT or SIGTERM; prints the port it listens on (useful with port 0).
#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using pg2s3::async::use_tuple;

struct Link {
  tcp::endpoint upstream;
  double bytes_per_second;  // 0: unpaced
  std::chrono::milliseconds connect_delay;
};

// Copies `from` to `to` until either closes; paced so that each chunk takes its time at the rate. An idle
// connection banks no credit: time it sat unused (a keep-alive connection between requests) does not let
// the next request through faster.
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, double bytes_per_second) {
  std::array<char, 64 * 1024> chunk;
  auto sent_by = Clock::now();  // when the link is free again
  asio::steady_timer pace(from.get_executor());
  for (;;) {
    auto [read_error, n] = co_await from.async_read_some(asio::buffer(chunk), use_tuple);
    if (read_error) break;
    if (bytes_per_second > 0) {
      const auto takes = std::chrono::duration<double>(static_cast<double>(n) / bytes_per_second);
      sent_by = std::max(sent_by, Clock::now()) + std::chrono::duration_cast<Clock::duration>(takes);
      pace.expires_at(sent_by);
      co_await pace.async_wait(use_tuple);
    }
    auto [write_error, written] = co_await asio::async_write(to, asio::buffer(chunk.data(), n), use_tuple);
    if (write_error) break;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> relay(tcp::socket client, Link link) {
  asio::steady_timer round_trip(client.get_executor(), link.connect_delay);
  co_await round_trip.async_wait(use_tuple);
  auto upstream = std::make_shared<tcp::socket>(client.get_executor());
  if (auto [ec] = co_await upstream->async_connect(link.upstream, use_tuple); ec) co_return;
  auto downstream = std::make_shared<tcp::socket>(std::move(client));
  asio::co_spawn(downstream->get_executor(), [=]() -> asio::awaitable<void> { co_await pump(*upstream, *downstream, 0); },
                 asio::detached);
  co_await pump(*downstream, *upstream, link.bytes_per_second);
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, Link link) {
  for (;;) {
    auto [ec, client] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), relay(std::move(client), link), asio::detached);
  }
}

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: wan_proxy LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT MEGABYTES_PER_SECOND CONNECT_DELAY_MS\n";
    return 2;
  }
  asio::io_context io;
  const Link link{{asio::ip::make_address(argv[2]), static_cast<unsigned short>(std::stoi(argv[3]))},
                  std::stod(argv[4]) * 1e6, std::chrono::milliseconds(std::stoi(argv[5]))};
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(argv[1]))});
  std::cout << acceptor.local_endpoint().port() << std::endl;
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code, int) { io.stop(); });
  asio::co_spawn(io, accept(acceptor, link), asio::detached);
  io.run();
}
