// The waiting primitives: an Event, and a Turn that a cancelled waiter never takes.
#include "async/sync.hpp"

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
  async::Event event(io.get_executor());
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
  async::Turn turn(io.get_executor());
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
  async::Turn turn(io.get_executor());
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

TEST_CASE("a doorbell wakes its waiter early, and a ring while nobody waits is kept for the next wait", "[sync]") {
  asio::io_context io;
  async::Doorbell bell(io.get_executor());
  constexpr auto never = std::chrono::hours(24);
  bool woken = false;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      co_await bell.wait_for(never);
      woken = true;
    }, asio::detached);
    co_await let_others_run();
    CHECK_FALSE(woken);
    bell.ring();
    co_await let_others_run();
    CHECK(woken);
    bell.ring();                    // nobody waits: kept
    co_await bell.wait_for(never);  // returns at once
  }());
  std::chrono::steady_clock::duration waited{};
  test::run(io, [&]() -> asio::awaitable<void> {  // no ring: the timeout ends the wait
    const auto start = std::chrono::steady_clock::now();
    co_await bell.wait_for(std::chrono::milliseconds(1));
    waited = std::chrono::steady_clock::now() - start;
  }());
  CHECK(waited >= std::chrono::milliseconds(1));
}

TEST_CASE("an uninterrupted step runs to its end through a cancel, and later waits can be cancelled again", "[sync]") {
  asio::io_context io;
  asio::cancellation_signal cancel;
  async::Event step_may_end(io.get_executor()), never(io.get_executor());
  bool step_ended = false, later_wait_cancelled = false;
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      co_await asio::this_coro::throw_if_cancelled(false);
      auto step = [&]() -> asio::awaitable<int> {
        co_await step_may_end.wait();
        co_return 1;
      };
      step_ended = co_await async::uninterrupted(step()) == 1 && step_may_end.is_set();
      co_await never.wait();
      later_wait_cancelled = !never.is_set();
    }, asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    co_await let_others_run();
    cancel.emit(asio::cancellation_type::terminal);  // reaches nothing: the step is shielded
    co_await let_others_run();
    CHECK_FALSE(step_ended);
    step_may_end.set();
    co_await let_others_run();
    CHECK(step_ended);
    cancel.emit(asio::cancellation_type::terminal);  // reaches the later wait
  }());
  CHECK(later_wait_cancelled);
}
