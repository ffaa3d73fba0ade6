#include "tests/support/tcp_relay.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace pg2s3::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

using async::use_tuple;

// One relayed connection: what the client opened, and its twin to the upstream server.
struct Link {
  explicit Link(tcp::socket client) : client(std::move(client)), server(this->client.get_executor()) {}
  tcp::socket client;
  tcp::socket server;
};

// Set while the relay is stalled; its timer, waiting forever, is cancelled to resume.
struct Stall {
  explicit Stall(asio::io_context& io) : resumed(io, asio::steady_timer::time_point::max()) {}
  bool on = false;
  asio::steady_timer resumed;
};

asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, Stall& stall) {
  std::array<char, 65536> buffer;
  for (;;) {
    auto [read_ec, n] = co_await from.async_read_some(asio::buffer(buffer), use_tuple);
    if (read_ec) co_return;
    while (stall.on) co_await stall.resumed.async_wait(use_tuple);
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), use_tuple);
    if (write_ec) co_return;
  }
}

}  // namespace

struct TcpRelay::State {
  asio::io_context io;  // first: destroyed last, after every socket of it
  tcp::endpoint listen_at{asio::ip::make_address("127.0.0.1"), 0};
  tcp::endpoint upstream;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::weak_ptr<Link>> links;
  Stall stall{io};
  std::thread thread;

  void open() {
    acceptor.emplace(io);
    acceptor->open(listen_at.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(listen_at);
    acceptor->listen();
    listen_at = acceptor->local_endpoint();  // the same port when switched on again
    asio::co_spawn(io, accept_connections(), asio::detached);
  }

  void close() {
    acceptor.reset();
    for (auto& weak : links)
      if (auto link = weak.lock()) {
        boost::system::error_code ignored;
        link->client.close(ignored);
        link->server.close(ignored);
      }
    links.clear();
  }

  asio::awaitable<void> accept_connections() {
    for (;;) {
      auto [ec, client] = co_await acceptor->async_accept(use_tuple);
      if (ec) co_return;
      auto link = std::make_shared<Link>(std::move(client));
      std::erase_if(links, [](const std::weak_ptr<Link>& weak) { return weak.expired(); });
      links.push_back(link);
      asio::co_spawn(io, relay(link), asio::detached);
    }
  }

  asio::awaitable<void> relay(std::shared_ptr<Link> link) {
    using namespace asio::experimental::awaitable_operators;
    auto [ec] = co_await link->server.async_connect(upstream, use_tuple);
    if (ec) co_return;
    co_await (pump(link->client, link->server, stall) || pump(link->server, link->client, stall));
  }

  // Runs `change` on the relay's thread and returns once it ran.
  template <class Change>
  void on_relay_thread(Change change) {
    std::packaged_task<void()> task(std::move(change));
    auto done = task.get_future();
    asio::post(io, std::move(task));
    done.get();
  }
};

TcpRelay::TcpRelay(const std::string& upstream_host, unsigned short upstream_port) : state_(std::make_unique<State>()) {
  state_->upstream = {asio::ip::make_address(upstream_host), upstream_port};
  state_->open();
  state_->thread = std::thread([state = state_.get()] {
    auto work = asio::make_work_guard(state->io);  // stays up while switched off
    state->io.run();
  });
}

TcpRelay::~TcpRelay() {
  state_->io.stop();
  state_->thread.join();
}

unsigned short TcpRelay::port() const { return state_->listen_at.port(); }

void TcpRelay::switch_off() {
  state_->on_relay_thread([state = state_.get()] { state->close(); });
}

void TcpRelay::switch_on() {
  state_->on_relay_thread([state = state_.get()] { state->open(); });
}

void TcpRelay::stall() {
  state_->on_relay_thread([state = state_.get()] { state->stall.on = true; });
}

void TcpRelay::resume() {
  state_->on_relay_thread([state = state_.get()] {
    state->stall.on = false;
    state->stall.resumed.cancel();
  });
}

}  // namespace pg2s3::test
