// Embedding the pg2s3 engine in another Asio program: no HTTP, just co_await on the program's own loop.
// It starts an export, reports progress once a second while doing other work, then prints the download URL.
//
//   eval "$(scripts/services env)"; build/examples/embedded_export users
#include "engine/engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
using namespace pg2s3;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

asio::awaitable<int> export_dataset(std::string dataset) {
  engine::EngineConfig config;
  config.database_url = env("PG2S3_DATABASE_URL");
  config.bucket = env("PG2S3_S3_BUCKET");
  config.s3.endpoint = env("PG2S3_S3_ENDPOINT");
  config.s3.credentials = {env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};

  auto engine = co_await engine::Engine::start(co_await asio::this_coro::executor, config);
  if (!engine) {
    std::cerr << engine.error().message << "\n";
    co_return 1;
  }
  const engine::ExportRequest request{dataset, "", engine::Compression::zstd, ""};
  auto job = co_await (*engine)->start_export(request);
  if (!job) {
    std::cerr << job.error().message << "\n";
    co_return 1;
  }

  // The program's own work goes on beside the export: here, a progress report every second.
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    auto status = co_await (*engine)->find_job(job->id);
    if (status && *status) {
      std::cout << engine::to_string((*status)->status) << " " << engine::progress_percent(**status) << "%\n";
      if (engine::is_final((*status)->status)) break;
    }
    tick.expires_after(std::chrono::seconds(1));
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  auto ended = co_await (*engine)->wait(job->id);
  if (!ended || ended->status != engine::JobStatus::completed) {
    std::cerr << "export did not complete: " << (ended ? ended->error_message : ended.error().message) << "\n";
    co_return 1;
  }
  std::cout << "download: " << (*engine)->download_url(*ended).value().url << "\n";
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, export_dataset(argc > 1 ? argv[1] : "users"), [&](std::exception_ptr, int s) { status = s; });
  io.run();
  return status;
}
