// Runs a shell command without blocking the event loop and collects what it prints (credential_process).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace pg2s3::s3 {

// More output than this is refused: credentials are a few hundred bytes of JSON.
inline constexpr std::size_t max_command_output = 1024 * 1024;

struct CommandOutput {
  std::string out;      // its standard output; its standard error goes to /dev/null
  int exit_status = 0;  // -1: it could not be started, was killed, ran past the timeout or printed too much
  std::string failure;  // why, when exit_status is -1; never anything it printed
};

// `/bin/sh -c command`, given at most `timeout` to finish and max_command_output to print, killed (with what
// it started) past either. Its output is read and its end awaited on the loop, through a pipe and a pidfd.
boost::asio::awaitable<CommandOutput> run_command(boost::asio::any_io_executor executor, std::string command,
                                                  std::chrono::milliseconds timeout);

}  // namespace pg2s3::s3
