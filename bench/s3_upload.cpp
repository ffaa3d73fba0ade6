// Uploads N MiB of in-memory parts to S3 through MultipartUpload and prints wall and CPU seconds:
// the cost of the S3 client alone, for comparing payload-integrity modes and against `aws s3 cp`.
//
//   s3_upload --mib 1024 --part-mib 8 --in-flight 4 --integrity sha256|crc32c
//   s3_upload --hash-cost    CPU seconds per GiB of each integrity mode's own hashing, no upload
// S3 settings come from the environment, as `scripts/services env` prints them.
#include "s3/client.hpp"
#include "s3/detail/crypto.hpp"
#include "s3/multipart_upload.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

namespace asio = boost::asio;
using namespace pg2s3;

namespace {

struct Options {
  std::size_t mib = 1024;
  std::size_t part_mib = 8;
  int in_flight = 4;
  s3::PayloadIntegrity integrity = s3::PayloadIntegrity::crc32c;
  bool hash_cost = false;
};

std::string setting(const char* name) {
  const char* value = std::getenv(name);
  if (!value) {
    std::cerr << name << " is not set: eval \"$(scripts/services env)\" first\n";
    std::exit(2);
  }
  return value;
}

Options parse(int argc, char** argv) {
  Options options;
  if (argc == 2 && std::string(argv[1]) == "--hash-cost") {
    options.hash_cost = true;
    return options;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--mib") options.mib = std::stoul(value);
    else if (flag == "--part-mib") options.part_mib = std::stoul(value);
    else if (flag == "--in-flight") options.in_flight = std::stoi(value);
    else if (flag == "--integrity" && (value == "sha256" || value == "crc32c"))
      options.integrity = value == "sha256" ? s3::PayloadIntegrity::signed_sha256 : s3::PayloadIntegrity::crc32c;
    else {
      std::cerr << "usage: s3_upload [--mib N] [--part-mib N] [--in-flight N] [--integrity sha256|crc32c]"
                   " | --hash-cost\n";
      std::exit(2);
    }
  }
  return options;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

asio::awaitable<void> upload_all(s3::MultipartUpload& upload, const std::string& part, std::size_t& parts_left,
                                 bool& failed) {
  while (parts_left > 0 && !failed) {
    --parts_left;
    auto sent = co_await upload.upload_part(part);
    if (!sent) {
      std::cerr << sent.error().message() << "\n";
      failed = true;
    }
  }
}

asio::awaitable<int> run(s3::Client& client, const Options& options, const std::string& part) {
  const std::string bucket = setting("PG2S3_S3_BUCKET");
  const std::string key = "bench/s3_upload.bin";
  auto upload = co_await s3::MultipartUpload::create(client, bucket, key);
  if (!upload) {
    std::cerr << upload.error().message() << "\n";
    co_return 1;
  }
  std::size_t parts_left = options.mib / options.part_mib;
  bool failed = false;
  auto executor = co_await asio::this_coro::executor;
  // Cancelled by the last worker to finish: the wait ends when all have.
  asio::steady_timer all_done(executor, std::chrono::steady_clock::time_point::max());
  int running = options.in_flight;
  for (int i = 0; i < options.in_flight; ++i)
    asio::co_spawn(executor, upload_all(*upload, part, parts_left, failed), [&](std::exception_ptr) {
      if (--running == 0) all_done.cancel();
    });
  co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
  if (failed) {
    co_await upload->abort();
    co_return 1;
  }
  auto completed = co_await upload->complete();
  if (!completed) {
    std::cerr << completed.error().message() << "\n";
    co_return 1;
  }
  co_await client.delete_object(bucket, key);
  co_return 0;
}

// What each mode costs in CPU alone, over 1 GiB held in one buffer that stays in cache-sized slices.
void print_hash_cost(const std::string& part) {
  const std::size_t passes = (std::size_t{1} << 30) / part.size();
  auto measure = [&](const char* name, auto hash) {
    const double before = cpu_seconds();
    std::size_t sink = 0;
    for (std::size_t i = 0; i < passes; ++i) sink += hash(part);
    std::cout << name << ": " << cpu_seconds() - before << " CPU s per GiB (" << sink % 10 << ")\n";
  };
  measure("signed SHA-256", [](const std::string& bytes) { return s3::detail::sha256(bytes)[0]; });
  measure("CRC-32C", [](const std::string& bytes) { return s3::detail::crc32c(bytes); });
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::string part(options.part_mib * 1024 * 1024, '\0');
  std::minstd_rand random(42);
  for (auto& c : part) c = static_cast<char>(random());
  if (options.hash_cost) {
    print_hash_cost(part);
    return 0;
  }

  s3::ClientConfig config;
  config.endpoint = setting("PG2S3_S3_ENDPOINT");
  config.scope.region = setting("PG2S3_S3_REGION");
  config.credentials = {setting("AWS_ACCESS_KEY_ID"), setting("AWS_SECRET_ACCESS_KEY"), ""};
  config.payload_integrity = options.integrity;

  asio::io_context io;
  auto client = s3::Client::create(io.get_executor(), config).value();
  const double cpu_before = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  int status = 1;
  asio::co_spawn(io, run(client, options, part), [&](std::exception_ptr, int s) { status = s; });
  io.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  std::cout << (options.integrity == s3::PayloadIntegrity::crc32c ? "crc32c" : "sha256") << " " << options.mib
            << " MiB: wall " << wall << " s, cpu " << cpu << " s, " << options.mib / wall << " MiB/s\n";
  return status;
}
