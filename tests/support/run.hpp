// Test helpers: run a coroutine to completion on a fresh io_context, read the test services' settings,
// name scratch files.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pg2s3::test {

// Runs `task` on `io` until it and everything else on `io` is done; rethrows what escaped it.
inline void run(boost::asio::io_context& io, boost::asio::awaitable<void> task) {
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
}

// The same, returning the task's result (which need not be default-constructible).
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> result;
  run(io, [&]() -> boost::asio::awaitable<void> { result.emplace(co_await std::move(task)); }());
  return std::move(*result);
}

// A setting that `scripts/services env` exports; the tests cannot run without it.
inline std::string service_setting(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value)
    throw std::runtime_error(std::string(name) + " is not set: run the tests through scripts/test, "
                             "or eval \"$(scripts/services env)\" first");
  return value;
}

// A path for a scratch file of this test process. The test programs of other checkouts may run at the same
// time, so each process keeps its files in a directory of its own, removed when it exits.
inline std::string scratch_file(std::string_view name) {
  static const struct Directory {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("pg2s3-test-" + std::to_string(getpid()));
    Directory() { std::filesystem::create_directories(path); }
    ~Directory() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } directory;
  return (directory.path / name).string();
}

}  // namespace pg2s3::test
