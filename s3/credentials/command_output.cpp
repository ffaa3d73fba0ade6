#include "s3/credentials/command_output.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace pg2s3::s3 {

namespace asio = boost::asio;

asio::awaitable<CommandOutput> run_command(asio::any_io_executor executor, std::string command,
                                           std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  CommandOutput output;
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) {
    output.exit_status = -1;
    output.failure = "cannot create a pipe";
    co_return output;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_ends[1]);
  if (spawned != 0) {
    ::close(pipe_ends[0]);
    output.exit_status = -1;
    output.failure = "cannot start /bin/sh";
    co_return output;
  }

  asio::posix::stream_descriptor reader(executor, pipe_ends[0]);
  asio::steady_timer deadline(executor, timeout);
  auto read = co_await (asio::async_read(reader, asio::dynamic_buffer(output.out, 1024 * 1024),
                                         asio::as_tuple(asio::use_awaitable)) ||
                        deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (read.index() == 1) {  // still running: it may hold the pipe open forever
    ::kill(pid, SIGKILL);
    output.exit_status = -1;
    output.failure = "it ran longer than " + std::to_string(timeout.count() / 1000) + " s";
  }
  // Its standard output closed, so it is ending: the wait is short.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output.exit_status == 0) {
    if (WIFEXITED(status)) {
      output.exit_status = WEXITSTATUS(status);
    } else {
      output.exit_status = -1;
      output.failure = "it was killed by signal " + std::to_string(WTERMSIG(status));
    }
  }
  co_return output;
}

}  // namespace pg2s3::s3
