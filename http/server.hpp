// The control API over HTTP/1.1 keep-alive: one coroutine per connection, every read and write under a deadline.
#pragma once

#include "engine/engine.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::http {

struct ServerConfig {
  std::string api_token;                      // empty: no bearer check
  std::vector<std::string> allowed_origins;   // browser origins that may use the API (see cross_site.hpp)
  std::vector<std::string> hostnames;         // Host names accepted besides localhost and the listen address
  std::size_t body_limit = 64 * 1024;         // larger bodies get 413
  std::size_t header_limit = 16 * 1024;       // larger request lines and headers get 431
  std::chrono::seconds read_timeout{30};      // a request (or a keep-alive pause) may take this long
  std::chrono::seconds write_timeout{30};
};

class Server {
 public:
  // Binds "HOST:PORT" (port 0: any free port).
  static engine::Result<std::unique_ptr<Server>> listen(boost::asio::any_io_executor executor, engine::Engine& engine,
                                                        std::string_view address, ServerConfig config);
  ~Server();

  // Accepts connections until stop().
  boost::asio::awaitable<void> run();
  // Stops accepting and closes idle connections; a request being answered gets its answer, then its
  // connection closes. run() returns once every connection is gone.
  void stop();
  unsigned short port() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg2s3::http
