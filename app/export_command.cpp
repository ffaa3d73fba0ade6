#include "app/export_command.hpp"

#include "engine/engine.hpp"
#include "http/json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace pg2s3::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::string with_thousands(std::int64_t number) {
  std::string digits = std::to_string(number);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

// Reports progress until cancelled: redrawn in place on a terminal, a line every few seconds otherwise.
asio::awaitable<void> report_progress(engine::Engine& engine, std::string id, bool terminal) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    timer.expires_after(terminal ? 250ms : 5s);
    if (auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable)); ec) break;
    auto job = co_await engine.find_job(id);
    if (!job || !*job) continue;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << (terminal ? "\r\033[K" : "") << progress_line(**job, elapsed) << (terminal ? "" : "\n") << std::flush;
  }
  if (terminal) std::cerr << "\r\033[K" << std::flush;
}

asio::awaitable<int> export_once(const Settings& settings, const ExportArguments& arguments) {
  using namespace asio::experimental::awaitable_operators;
  const auto executor = co_await asio::this_coro::executor;
  auto engine = co_await engine::Engine::start(executor, settings.engine);
  if (!engine) {
    std::cerr << "pg2s3: " << engine.error().message << "\n";
    co_return 1;
  }
  auto params = parse_param_arguments(arguments.params);
  if (auto* problem = std::get_if<std::string>(&params)) {
    std::cerr << "pg2s3: " << *problem << "\n";
    co_return 2;
  }
  std::optional<std::uint64_t> max_file_size;
  if (!arguments.max_file_size.empty()) max_file_size = engine::parse_byte_size(arguments.max_file_size);
  const engine::ExportRequest request{arguments.dataset, arguments.key, engine::parse_compression(arguments.compression),
                                      arguments.output, engine::parse_format(arguments.format), arguments.parallelism,
                                      max_file_size, {}, std::get<engine::ParamArguments>(std::move(params))};
  auto job = co_await (*engine)->start_export(request);
  if (!job) {
    std::cerr << "pg2s3: " << job.error().message << "\n";
    co_return 1;
  }

  asio::signal_set interrupts(executor, SIGINT, SIGTERM);  // cancel cleanly: no object, no open upload
  interrupts.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> { co_await (*engine)->cancel(job->id); }, asio::detached);
  });
  auto ended = co_await ((*engine)->wait(job->id) || report_progress(**engine, job->id, isatty(STDERR_FILENO)));
  interrupts.cancel();
  auto final_status = std::get<0>(std::move(ended));
  if (!final_status) {
    std::cerr << "pg2s3: " << final_status.error().message << "\n";
    co_return 1;
  }
  (arguments.output == "-" ? std::cerr : std::cout) << http::job_status_json(*final_status) << std::endl;
  if (final_status->status == engine::JobStatus::completed) co_return 0;
  std::cerr << "pg2s3: export " << engine::to_string(final_status->status) << ": " << final_status->error_message
            << "\n";
  co_return 1;
}

}  // namespace

std::variant<engine::ParamArguments, std::string> parse_param_arguments(const std::vector<std::string>& arguments) {
  engine::ParamArguments params;
  for (const auto& argument : arguments) {
    const auto equals = argument.find('=');
    if (equals == std::string::npos || equals == 0) return "--param wants NAME=VALUE, not '" + argument + "'";
    if (!params.emplace(argument.substr(0, equals), argument.substr(equals + 1)).second)
      return "--param " + argument.substr(0, equals) + " is given twice";
  }
  return params;
}

std::string progress_line(const engine::JobRecord& job, double elapsed_seconds) {
  std::string line = job.dataset + "  " + with_thousands(job.processed_records);
  if (job.total_records) line += "/" + with_thousands(*job.total_records);
  line += " rows  " + std::to_string(engine::progress_percent(job)) + "%";
  if (elapsed_seconds > 0) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "  %.1f MB/s", static_cast<double>(job.bytes_uploaded) / 1e6 / elapsed_seconds);
    line += rate;
  }
  if (job.total_records && job.processed_records > 0 && *job.total_records > job.processed_records) {
    const auto remaining = static_cast<long>(elapsed_seconds * static_cast<double>(*job.total_records - job.processed_records) /
                                             static_cast<double>(job.processed_records));
    char eta[32];
    std::snprintf(eta, sizeof eta, "  ETA %ld:%02ld", remaining / 60, remaining % 60);
    line += eta;
  }
  return line;
}

int run_export(const Settings& settings, const ExportArguments& arguments) {
  if (arguments.output.empty() && settings.engine.bucket.empty()) {
    std::cerr << "pg2s3: no bucket: set PG2S3_S3_BUCKET (or s3.bucket in the config file), or use --output\n";
    return 2;
  }
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, export_once(settings, arguments), [&](std::exception_ptr failure, int result) {
    status = failure ? 1 : result;
  });
  io.run();
  return status;
}

}  // namespace pg2s3::app
