// pg2s3's settings from flags, environment and a TOML file, in that order of precedence, over defaults.
#pragma once

#include "engine/config.hpp"

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pg2s3::app {

struct Settings {
  // A process rescues the jobs of processes that died; `serve` also claims the fleet's jobs.
  Settings() { engine.sweep_interval = std::chrono::seconds(5); }
  engine::EngineConfig engine;
  std::string listen = "127.0.0.1:8080";
  std::string api_token;  // empty: the API is open
  std::chrono::seconds drain_timeout{30};  // at SIGTERM, how long running exports may go on before cancelled
  std::chrono::seconds request_timeout{30};  // how long a client may take to send a request or read an answer
  std::size_t body_limit = 64 * 1024;  // larger request bodies get 413 (a dataset's long parameters need more)
  std::vector<std::string> allowed_origins;  // web pages that may use the API, by origin (default none)
  std::vector<std::string> hostnames;        // Host header names accepted besides localhost and the listen address
};

// Reads one environment variable; nothing when unset. Injected so that tests need not touch the process's.
using Environment = std::function<std::optional<std::string>(const char* name)>;
Environment process_environment();

struct Flags {
  std::string config_file;  // --config; else PG2S3_CONFIG
  std::string listen;       // --listen
};

// The settings, or the one-line reason they cannot be used (a file that does not parse, a bad value).
std::variant<Settings, std::string> load_settings(const Flags& flags, const Environment& environment);

// What `--help` lists: each environment variable and what it sets.
std::string environment_help();

}  // namespace pg2s3::app
