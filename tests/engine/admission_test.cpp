// Shares of the buffer budget for exports that hold buffers while they wait for one: never more than the
// budget together, granted in arrival order, and a cancelled wait leaves the queue.
#include "engine/buffer_pool.hpp"
#include "tests/support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace pg2s3;
using engine::BufferPool;
using engine::Result;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> yield() { co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable); }

// Takes a share of `bytes`, notes it, and holds it until `release` is set.
asio::awaitable<void> admitted(BufferPool& pool, std::size_t bytes, std::string name, std::vector<std::string>& order,
                               std::optional<Result<BufferPool::Admission>>& share) {
  share.emplace(co_await pool.admit(bytes));
  if (share->has_value()) order.push_back(name);
}

}  // namespace

TEST_CASE("shares of the budget never add up past it, and are granted in arrival order", "[pool][admission]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 100, 10);
  std::vector<std::string> order;
  std::optional<Result<BufferPool::Admission>> a, b, c, d;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, admitted(pool, 60, "a", order, a), asio::detached);
    asio::co_spawn(executor, admitted(pool, 50, "b", order, b), asio::detached);
    asio::co_spawn(executor, admitted(pool, 10, "c", order, c), asio::detached);  // fits, but waits behind b
    co_await yield();
    CHECK(order == std::vector<std::string>{"a"});
    CHECK(pool.bytes_admitted() == 60);
    CHECK(pool.waiting_for_admission() == 2);
    a.reset();  // a's export ended
    co_await yield();
    CHECK(order == std::vector<std::string>{"a", "b", "c"});
    CHECK(pool.bytes_admitted() == 60);
    asio::co_spawn(executor, admitted(pool, 101, "d", order, d), asio::detached);
    co_await yield();
    REQUIRE(d);
    CHECK_FALSE(d->has_value());  // more than the whole budget: refused at once
    CHECK(d->error().code == engine::errc::over_budget);
    b.reset();
    c.reset();
  }());
  CHECK(pool.bytes_admitted() == 0);
}

TEST_CASE("a cancelled wait for a share takes none, and lets those behind it in", "[pool][admission]") {
  asio::io_context io;
  BufferPool pool(io.get_executor(), 100, 10);
  std::vector<std::string> order;
  std::optional<Result<BufferPool::Admission>> a, b, c;
  asio::cancellation_signal cancel;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, admitted(pool, 70, "a", order, a), asio::detached);
    asio::co_spawn(executor, admitted(pool, 90, "b", order, b), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    asio::co_spawn(executor, admitted(pool, 30, "c", order, c), asio::detached);
    co_await yield();
    CHECK(order == std::vector<std::string>{"a"});
    cancel.emit(asio::cancellation_type::terminal);
    co_await yield();
    co_await yield();
    CHECK(order == std::vector<std::string>{"a", "c"});
    REQUIRE(b);
    CHECK_FALSE(b->has_value());
    a.reset();
    c.reset();
  }());
  CHECK(pool.bytes_admitted() == 0);
  CHECK(pool.waiting_for_admission() == 0);
}
