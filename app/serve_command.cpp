#include "app/serve_command.hpp"

#include "engine/engine.hpp"
#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>

#include <iostream>

namespace pg2s3::app {

namespace asio = boost::asio;

namespace {

// At SIGHUP: the config file's datasets replace the engine's, when the file still loads. What the running
// engine and server were built with (the database, the bucket, upload options, limits) stays until a restart.
void reload_datasets(engine::Engine& engine, const Settings& running, const Flags& flags) {
  auto loaded = load_settings(flags, process_environment());
  if (auto* problem = std::get_if<std::string>(&loaded)) {
    std::clog << "pg2s3: SIGHUP: " << *problem << ": keeping the datasets as they were" << std::endl;
    return;
  }
  auto& fresh = std::get<Settings>(loaded);
  for (const auto& change : changes_needing_restart(running, fresh))
    std::clog << "pg2s3: SIGHUP: " << change << " changed: that needs a restart; ignored until then" << std::endl;
  const auto count = fresh.engine.datasets.size();
  engine.replace_datasets(std::move(fresh.engine.datasets));
  std::clog << "pg2s3: SIGHUP: reloaded " << count << " datasets (upload options and limits change at a restart)"
            << std::endl;
}

// Reloads the datasets at every SIGHUP until the signal set is cancelled.
void reload_on_hangup(asio::signal_set& hangup, engine::Engine& engine, const Settings& running, const Flags& flags) {
  hangup.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    reload_datasets(engine, running, flags);
    reload_on_hangup(hangup, engine, running, flags);
  });
}

asio::awaitable<int> serve(const Settings& settings, const Flags& flags) {
  const auto executor = co_await asio::this_coro::executor;
  auto fleet_member = settings.engine;
  fleet_member.jobs.claim_jobs = true;  // any PENDING job of export_jobs, whichever process was asked
  auto engine = co_await engine::Engine::start(executor, std::move(fleet_member));
  if (!engine) {
    std::cerr << "pg2s3: " << engine.error().message << "\n";
    co_return 1;
  }
  http::ServerConfig config;
  config.api_token = settings.api_token;
  config.allowed_origins = settings.allowed_origins;
  config.hostnames = settings.hostnames;
  config.read_timeout = settings.request_timeout;
  config.write_timeout = settings.request_timeout;
  config.body_limit = settings.body_limit;
  auto server = http::Server::listen(executor, **engine, settings.listen, config);
  if (!server) {
    std::cerr << "pg2s3: " << server.error().message << "\n";
    co_return 1;
  }
  asio::signal_set hangup(executor, SIGHUP);  // before "listening", which is when callers may send it
  reload_on_hangup(hangup, **engine, settings, flags);
  std::clog << "pg2s3: listening on " << settings.listen << (settings.api_token.empty() ? "" : " (bearer token required)")
            << std::endl;

  // The first SIGINT/SIGTERM stops accepting and claiming, and drains: running exports may finish for up to
  // the drain timeout, then the rest abort their uploads and go back PENDING, their attempts unspent, for
  // another process (or this one after its restart). A second signal ends the drain at once.
  asio::signal_set signals(executor, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    std::clog << "pg2s3: stopping: running exports have " << settings.drain_timeout.count()
              << " s to finish before they are handed back (a second signal hands them back now)" << std::endl;
    (*server)->stop();
    signals.async_wait([&](boost::system::error_code again, int) {
      if (again) return;
      std::clog << "pg2s3: second signal: handing running exports back" << std::endl;
      (*engine)->end_drain();
    });
  });
  co_await (*server)->run();
  co_await (*engine)->shutdown(settings.drain_timeout);
  signals.cancel();
  hangup.cancel();
  std::clog << "pg2s3: stopped" << std::endl;
  co_return 0;
}

// Every client connection and every export's database connection is a descriptor: the soft limit, often
// 1024, is raised to the hard one, as servers commonly do.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

std::vector<std::string> changes_needing_restart(const Settings& running, const Settings& fresh) {
  std::vector<std::string> changes;
  if (fresh.engine.database_url != running.engine.database_url) changes.emplace_back("the database");
  if (fresh.engine.jobs.database_url != running.engine.jobs.database_url ||
      fresh.engine.jobs.listen_url != running.engine.jobs.listen_url)
    changes.emplace_back("the jobs' database");
  if (fresh.engine.bucket != running.engine.bucket) changes.emplace_back("the bucket");
  return changes;
}

int run_server(const Settings& settings, const Flags& flags) {
  if (settings.engine.bucket.empty()) {
    std::cerr << "pg2s3: no bucket: set PG2S3_S3_BUCKET (or s3.bucket in the config file)\n";
    return 2;
  }
  raise_descriptor_limit();
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, serve(settings, flags), [&](std::exception_ptr failure, int result) { status = failure ? 1 : result; });
  io.run();
  return status;
}

}  // namespace pg2s3::app
