// Helpers of the engine tests: an engine on the test services, exports run to their end, what RGW holds.
#pragma once

#include "async/cancellation.hpp"
#include "engine/engine.hpp"
#include "tests/support/services.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <string>

namespace pg2s3::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using async::use_tuple;
const std::string users_query = "SELECT id, email, name, created_at FROM users";
// Big enough to be caught mid-flight: about 2.5 million rows, 110 MB.
const std::string slow_query = "SELECT g AS id, md5(g::text) AS hash, g * 2 AS twice FROM generate_series(1, 2500000) AS g";

inline engine::EngineConfig engine_config() {
  engine::EngineConfig config;
  config.database_url = test::database_url();
  config.bucket = test::bucket();
  config.s3 = test::rgw_config();
  config.datasets.push_back({"slow", slow_query, false});
  config.datasets.push_back({"users_counted", users_query, true});
  config.progress_interval = 50ms;
  return config;
}

// A dataset of a users-shaped table (id, email, name, created_at), which an export may split into ranges.
inline engine::Dataset users_table_dataset(std::string name, std::string table, std::string where = {}) {
  engine::Dataset dataset;
  dataset.name = std::move(name);
  dataset.table = std::move(table);
  dataset.columns = {"id", "email", "name", "created_at"};
  dataset.where = std::move(where);
  dataset.query = engine::table_query(dataset);
  return dataset;
}

// A dataset of all of `table`'s columns, named as the table, which an export may split into ranges.
inline engine::Dataset table_dataset(std::string table) {
  engine::Dataset dataset;
  dataset.name = table;
  dataset.table = std::move(table);
  dataset.query = engine::table_query(dataset);
  return dataset;
}

// Ranges of a few pages, so that even the 100,000 users make a hundred of them, many smaller than a
// piece; budget enough for four readers.
inline engine::EngineConfig ranged_engine_config() {
  auto config = engine_config();
  config.range_size = 64 * 1024;
  config.buffer_budget = 128 * 1024 * 1024;
  return config;
}

inline std::unique_ptr<engine::Engine> start_engine(asio::io_context& io, engine::EngineConfig config = engine_config()) {
  return test::run(io, engine::Engine::start(io.get_executor(), std::move(config))).value();
}

inline engine::JobRecord export_and_wait(asio::io_context& io, engine::Engine& engine, engine::ExportRequest request) {
  return test::run(io, [&]() -> asio::awaitable<engine::Result<engine::JobRecord>> {
    auto job = co_await engine.start_export(request);
    if (!job) co_return job.error();
    co_return co_await engine.wait(job->id);
  }()).value();
}

inline std::string object_bytes(asio::io_context& io, const std::string& key) {
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  return test::run(io, test::read_object(client, key)).value();
}

inline bool object_exists(asio::io_context& io, const std::string& key) {
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  return test::run(io, client.head_object(test::bucket(), key)).has_value();
}

inline bool upload_open_for(asio::io_context& io, const std::string& key) {
  auto client = s3::Client::create(io.get_executor(), test::rgw_config()).value();
  return !test::run(io, client.list_multipart_uploads(test::bucket(), key)).value().empty();
}

// Polls until `co_await done()` is true, every 5 ms; false if that took more than 20 s.
template <class Condition>
asio::awaitable<bool> poll_until(Condition& done) {
  asio::steady_timer poll(co_await asio::this_coro::executor);
  for (int attempt = 0; attempt < 4000; ++attempt) {
    if (co_await done()) co_return true;
    poll.expires_after(5ms);
    co_await poll.async_wait(use_tuple);
  }
  co_return false;
}

// Waits until the job has read some rows.
inline asio::awaitable<bool> wait_until_reading(engine::Engine& engine, const std::string& id) {
  auto reading = [&]() -> asio::awaitable<bool> {
    auto job = co_await engine.find_job(id);
    co_return job && *job && (*job)->processed_records > 0;
  };
  co_return co_await poll_until(reading);  // named: GCC 12 mishandles temporaries across co_await
}

}  // namespace pg2s3::test
