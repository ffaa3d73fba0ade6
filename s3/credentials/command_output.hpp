// Runs a shell command without blocking the event loop and collects what it prints (credential_process).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace pg2s3::s3 {

struct CommandOutput {
  std::string out;     // its standard output; its standard error goes to ours
  int exit_status = 0;  // -1: it could not be started, was killed, or ran past the timeout
  std::string failure;  // why, when exit_status is -1
};

// `/bin/sh -c command`, given at most `timeout` to finish, killed after it.
boost::asio::awaitable<CommandOutput> run_command(boost::asio::any_io_executor executor, std::string command,
                                                  std::chrono::milliseconds timeout);

}  // namespace pg2s3::s3
