// The waiting primitives: an Event, and a Turn that a cancelled waiter never takes.
#include "engine/sync.hpp"
#include "tests/support/run.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace pg2s3;
namespace asio = boost::asio;

namespace {
asio::awaitable<void> let_others_run() { co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable); }
}  // namespace

TEST_CASE("an event wakes every waiter once set, and later waits return at once", "[sync]") {
  asio::io_context io;
  engine::Event event(io.get_executor());
  int woken = 0;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
        co_await event.wait();
        if (event.is_set()) ++woken;
      }, asio::detached);
    co_await let_others_run();
    CHECK(woken == 0);
    event.set();
    co_await let_others_run();
    CHECK(woken == 3);
    co_await event.wait();  // at once
  }());
  CHECK(woken == 3);
}

TEST_CASE("a turn goes to one holder at a time, in arrival order", "[sync]") {
  asio::io_context io;
  engine::Turn turn(io.get_executor());
  std::vector<std::string> log;
  auto user = [&](std::string name) -> asio::awaitable<void> {
    auto held = co_await turn.take();
    REQUIRE(held);
    log.push_back(name + " in");
    co_await let_others_run();
    log.push_back(name + " out");
  };
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    for (const char* name : {"a", "b", "c"}) asio::co_spawn(executor, user(name), asio::detached);
    co_return;
  }());
  CHECK(log == std::vector<std::string>{"a in", "a out", "b in", "b out", "c in", "c out"});
  CHECK_FALSE(turn.taken());
}

TEST_CASE("a waiter cancelled before its turn never takes it nor ends the holder's", "[sync]") {
  asio::io_context io;
  engine::Turn turn(io.get_executor());
  asio::cancellation_signal cancel;
  bool cancelled_got_turn = true;
  bool third_ran_alone = false;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    auto held = co_await turn.take();
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      auto mine = co_await turn.take();
      cancelled_got_turn = mine.has_value();
    }, asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      auto mine = co_await turn.take();
      third_ran_alone = mine.has_value();
    }, asio::detached);
    co_await let_others_run();
    CHECK(turn.waiting() == 2);
    cancel.emit(asio::cancellation_type::terminal);
    co_await let_others_run();
    CHECK_FALSE(cancelled_got_turn);
    CHECK(turn.waiting() == 1);  // the third still waits: the holder's turn was not ended by the cancel
    CHECK(turn.taken());
  }());
  CHECK(third_ran_alone);
  CHECK_FALSE(turn.taken());
}
