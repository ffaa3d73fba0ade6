#include "s3/credentials/command_output.hpp"

#include "async/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <variant>

extern char** environ;

namespace pg2s3::s3 {
namespace {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using async::use_tuple;

struct Started {
  pid_t pid = 0;
  int output = -1;  // the read end of its standard output
  int exited = -1;  // a pidfd, readable once it has exited
};

// `/bin/sh -c command` writing to `output`, its standard input and error on /dev/null: nothing it writes
// there can hold it up, and nothing it says there (a secret, perhaps) reaches our log. It leads a process
// group of its own, so that killing the group kills what it started too. posix_spawn's error, or 0.
int spawn_shell(const std::string& command, int output, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, const_cast<char* const*>(argv), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return spawned;
}

std::string system_error(const char* what, int error) { return what + std::generic_category().message(error); }

// The command started, with a pipe from its standard output and a pidfd; why it could not start, if so.
std::variant<Started, std::string> start_shell(const std::string& command) {
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) return system_error("cannot create a pipe: ", errno);
  pid_t pid = 0;
  const int spawned = spawn_shell(command, pipe_ends[1], pid);
  ::close(pipe_ends[1]);
  if (spawned != 0) {
    ::close(pipe_ends[0]);
    return system_error("cannot start /bin/sh: ", spawned);
  }
  // Through syscall(): Debian 12's <sys/pidfd.h> declares pidfd_open without C linkage.
  const int exited = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (exited < 0) {
    const int error = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(pipe_ends[0]);
    return system_error("cannot watch /bin/sh: ", error);
  }
  return Started{pid, pipe_ends[0], exited};
}

// A started command until it is reaped. Destroyed before that (its caller was cancelled), it is killed
// and reaped at once: SIGKILL cannot be caught, so that wait is only the kernel's to end it.
class Child {
 public:
  Child(const asio::any_io_executor& executor, const Started& started)
      : output(executor, started.output), exited(executor, started.exited), pid_(started.pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (reaped_) return;
    kill();
    ::waitpid(pid_, nullptr, 0);
  }

  void kill() { ::kill(-pid_, SIGKILL); }

  // Its wait status, once `exited` is readable: waitpid does not block then.
  int reap() {
    int status = 0;
    ::waitpid(pid_, &status, WNOHANG);
    reaped_ = true;
    return status;
  }

  stream_descriptor output;
  stream_descriptor exited;

 private:
  pid_t pid_;
  bool reaped_ = false;
};

std::string duration_text(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + " s";
  return std::to_string(duration.count()) + " ms";
}

// Takes what the child prints until its output closes, then waits for it to exit. Why it stopped short of
// that, if it did.
asio::awaitable<std::optional<std::string>> collect(Child& child, std::string& out) {
  std::array<char, 64 * 1024> chunk;
  for (;;) {
    auto [ec, n] = co_await child.output.async_read_some(asio::buffer(chunk), use_tuple);
    if (ec == asio::error::eof) break;
    if (ec) co_return "cannot read its output: " + ec.message();
    if (out.size() + n > max_command_output)
      co_return "it printed more than " + std::to_string(max_command_output / (1024 * 1024)) + " MiB";
    out.append(chunk.data(), n);
  }
  co_await child.exited.async_wait(stream_descriptor::wait_read, use_tuple);
  co_return std::nullopt;
}

CommandOutput failed(std::string failure) { return {"", -1, std::move(failure)}; }

}  // namespace

asio::awaitable<CommandOutput> run_command(asio::any_io_executor executor, std::string command,
                                           std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto started = start_shell(command);
  if (auto* failure = std::get_if<std::string>(&started)) co_return failed(std::move(*failure));
  Child child(executor, std::get<Started>(started));
  CommandOutput output;
  asio::steady_timer deadline(executor, timeout);
  auto ending = co_await (collect(child, output.out) || deadline.async_wait(use_tuple));
  std::optional<std::string> refusal = ending.index() == 0
                                           ? std::get<0>(std::move(ending))
                                           : "it ran longer than " + duration_text(timeout) + " and was killed";
  if (refusal) {
    child.kill();
    co_await child.exited.async_wait(stream_descriptor::wait_read, use_tuple);
    child.reap();
    co_return failed(std::move(*refusal));
  }
  const int status = child.reap();
  if (WIFEXITED(status)) {
    output.exit_status = WEXITSTATUS(status);
    co_return output;
  }
  co_return failed("it was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace pg2s3::s3
