// Tasks under way at once (part uploads here): a limit on how many, the first failure cancelling the rest, all awaited.
#include "engine/detail/task_group.hpp"
#include "tests/support/run.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>

using namespace pg2s3;
namespace asio = boost::asio;

namespace {

struct Counts {
  int running = 0;
  int most = 0;
  int finished = 0;
  int cancelled = 0;
};

// An upload that takes `ms`, or fails after it when `fail` is set.
asio::awaitable<engine::Result<void>> upload(int ms, bool fail, Counts& counts) {
  counts.most = std::max(counts.most, ++counts.running);
  asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  auto [ec] = co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  --counts.running;
  if (ec) {
    ++counts.cancelled;
    co_return engine::Error{ec, "cancelled"};
  }
  if (fail) co_return engine::Error{asio::error::connection_reset, "part failed"};
  ++counts.finished;
  co_return engine::Result<void>{};
}

}  // namespace

TEST_CASE("no more uploads run at once than the limit, and all of them end before all_ended returns", "[uploads]") {
  asio::io_context io;
  Counts counts;
  test::run(io, [&]() -> asio::awaitable<void> {
    engine::detail::TaskGroup uploads(co_await asio::this_coro::executor);
    for (int i = 0; i < 10; ++i) {
      co_await uploads.wait_below(3);
      uploads.start(upload(5 + i % 3, false, counts));
    }
    co_await uploads.all_ended();
    CHECK(uploads.running() == 0);
    CHECK_FALSE(uploads.failure());
  }());
  CHECK(counts.finished == 10);
  CHECK(counts.most == 3);
}

TEST_CASE("the first failed upload is kept and cancels the others", "[uploads]") {
  asio::io_context io;
  Counts counts;
  std::string failure;
  test::run(io, [&]() -> asio::awaitable<void> {
    engine::detail::TaskGroup uploads(co_await asio::this_coro::executor);
    uploads.start(upload(60'000, false, counts));
    uploads.start(upload(1, true, counts));
    uploads.start(upload(60'000, false, counts));
    co_await uploads.wait_below(1);  // returns at the failure, not after a minute
    co_await uploads.all_ended();
    failure = uploads.failure() ? uploads.failure()->message : "";
  }());
  CHECK(failure == "part failed");
  CHECK(counts.cancelled == 2);
  CHECK(counts.finished == 0);
}

TEST_CASE("an exception in one task fails the group as an error would, and nothing escapes the loop", "[uploads]") {
  asio::io_context io;
  Counts counts;
  std::optional<engine::Error> failure;
  test::run(io, [&]() -> asio::awaitable<void> {
    engine::detail::TaskGroup uploads(co_await asio::this_coro::executor);
    uploads.start(upload(60'000, false, counts));
    uploads.start([]() -> asio::awaitable<engine::Result<void>> {
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      throw std::runtime_error("zstd: a codec failure");
    }());
    co_await uploads.wait_below(1);
    co_await uploads.all_ended();
    failure = uploads.failure();
  }());
  REQUIRE(failure);
  CHECK(failure->code == engine::errc::internal_error);
  CHECK(failure->message == "internal error: zstd: a codec failure");
  CHECK(counts.cancelled == 1);
}
