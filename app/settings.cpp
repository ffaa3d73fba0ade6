#include "app/settings.hpp"

#include <toml++/toml.h>

#include <cstdlib>

namespace pg2s3::app {
namespace {

constexpr std::size_t mebibyte = 1024 * 1024;

// Fills settings from the TOML file; the reason when it cannot.
std::optional<std::string> apply_file(Settings& settings, const std::string& path) {
  toml::table file;
  try {
    file = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return "config file " + path + ": " + std::string(error.description()) + " (line " +
           std::to_string(error.source().begin.line) + ")";
  }
  auto& engine = settings.engine;
  engine.database_url = file["database"]["url"].value_or(engine.database_url);
  engine.bucket = file["s3"]["bucket"].value_or(engine.bucket);
  engine.s3.endpoint = file["s3"]["endpoint"].value_or(engine.s3.endpoint);
  engine.s3.public_endpoint = file["s3"]["public_endpoint"].value_or(engine.s3.public_endpoint);
  engine.s3.scope.region = file["s3"]["region"].value_or(engine.s3.scope.region);
  engine.s3.ca_file = file["s3"]["ca_file"].value_or(engine.s3.ca_file);
  engine.s3.retry.max_attempts = file["s3"]["max_attempts"].value_or(engine.s3.retry.max_attempts);
  engine.s3.io_timeout =
      std::chrono::milliseconds(file["s3"]["request_timeout_ms"].value_or(engine.s3.io_timeout.count()));
  const std::string integrity = file["s3"]["payload_integrity"].value_or(std::string("crc32c"));
  if (integrity != "crc32c" && integrity != "sha256")
    return "config file " + path + ": s3.payload_integrity must be crc32c or sha256";
  engine.s3.payload_integrity =
      integrity == "sha256" ? s3::PayloadIntegrity::signed_sha256 : s3::PayloadIntegrity::crc32c;
  settings.listen = file["server"]["listen"].value_or(settings.listen);
  settings.drain_timeout =
      std::chrono::seconds(file["server"]["drain_timeout_seconds"].value_or(settings.drain_timeout.count()));
  settings.request_timeout =
      std::chrono::seconds(file["server"]["request_timeout_seconds"].value_or(settings.request_timeout.count()));

  const auto& tuning = file["export"];
  engine.key_prefix = tuning["key_prefix"].value_or(engine.key_prefix);
  engine.part_size = tuning["part_size_mib"].value_or<std::size_t>(engine.part_size / mebibyte) * mebibyte;
  engine.buffer_budget = tuning["buffer_budget_mib"].value_or<std::size_t>(engine.buffer_budget / mebibyte) * mebibyte;
  // parts_per_export (the part filling plus those uploading) came before max_parts_in_flight.
  if (auto parts = tuning["parts_per_export"].value<int>()) engine.max_parts_in_flight = *parts - 1;
  engine.max_parts_in_flight = tuning["max_parts_in_flight"].value_or(engine.max_parts_in_flight);
  engine.max_running_exports = tuning["max_running"].value_or(engine.max_running_exports);
  engine.download_url_lifetime =
      std::chrono::seconds(tuning["download_url_seconds"].value_or(engine.download_url_lifetime.count()));
  engine.sweep_interval =
      std::chrono::milliseconds(tuning["sweep_interval_ms"].value_or(engine.sweep_interval.count()));

  if (auto* datasets = file["datasets"].as_array()) {
    engine.datasets.clear();
    for (const auto& entry : *datasets) {
      const auto* table = entry.as_table();
      auto name = table ? (*table)["name"].value<std::string>() : std::nullopt;
      auto query = table ? (*table)["query"].value<std::string>() : std::nullopt;
      if (!name || !query) return "config file " + path + ": every [[datasets]] needs a name and a query";
      engine.datasets.push_back({*name, *query, (*table)["exact_count"].value_or(false)});
    }
  }
  if (settings.request_timeout.count() < 1)
    return "config file " + path + ": server.request_timeout_seconds must be at least 1";
  if (engine.part_size < 5 * mebibyte) return "config file " + path + ": export.part_size_mib must be at least 5";
  if (engine.max_parts_in_flight < 1)
    return "config file " + path + ": export.max_parts_in_flight must be at least 1 (parts_per_export at least 2)";
  if (engine.max_running_exports < 1) return "config file " + path + ": export.max_running must be at least 1";
  if (engine.s3.retry.max_attempts < 1) return "config file " + path + ": s3.max_attempts must be at least 1";
  if (engine.s3.io_timeout.count() < 1) return "config file " + path + ": s3.request_timeout_ms must be at least 1";
  return std::nullopt;
}

void apply_environment(Settings& settings, const Environment& environment) {
  auto set = [&](const char* name, std::string& target) {
    if (auto value = environment(name)) target = *value;
  };
  auto& engine = settings.engine;
  set("PG2S3_DATABASE_URL", engine.database_url);
  set("PG2S3_S3_BUCKET", engine.bucket);
  set("PG2S3_S3_ENDPOINT", engine.s3.endpoint);
  set("PG2S3_S3_PUBLIC_ENDPOINT", engine.s3.public_endpoint);
  set("AWS_REGION", engine.s3.scope.region);
  set("PG2S3_S3_REGION", engine.s3.scope.region);  // the more specific name wins
  set("AWS_ACCESS_KEY_ID", engine.s3.credentials.access_key_id);
  set("AWS_SECRET_ACCESS_KEY", engine.s3.credentials.secret_access_key);
  set("AWS_SESSION_TOKEN", engine.s3.credentials.session_token);
  set("PG2S3_LISTEN", settings.listen);
  set("PG2S3_API_TOKEN", settings.api_token);
}

}  // namespace

Environment process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

std::variant<Settings, std::string> load_settings(const Flags& flags, const Environment& environment) {
  Settings settings;
  const std::string config_file = !flags.config_file.empty() ? flags.config_file
                                                             : environment("PG2S3_CONFIG").value_or("");
  if (!config_file.empty()) {
    if (auto problem = apply_file(settings, config_file)) return *problem;
  }
  apply_environment(settings, environment);
  if (!flags.listen.empty()) settings.listen = flags.listen;
  return settings;
}

std::string environment_help() {
  return R"(Environment (flags override it; it overrides the config file):
  PG2S3_DATABASE_URL         libpq connection string or URI (default: libpq's PG* variables)
  PG2S3_S3_BUCKET            bucket (required for S3 exports)
  PG2S3_S3_ENDPOINT          http(s)://host[:port] (default: https://s3.<region>.amazonaws.com)
  PG2S3_S3_REGION, AWS_REGION  signing region (default: us-east-1)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN  credentials
  PG2S3_S3_PUBLIC_ENDPOINT   endpoint written into presigned URLs (default: the endpoint)
  PG2S3_LISTEN               control API address (default: 127.0.0.1:8080)
  PG2S3_API_TOKEN            when set, API requests but GET /healthz need "Authorization: Bearer <token>"
  PG2S3_CONFIG               TOML config file: [database] url; [s3] bucket, endpoint, public_endpoint, region,
                             ca_file, payload_integrity (crc32c|sha256); max_attempts (default 8: each
                             S3 request is tried this often, with backoff, on 5xx, SlowDown, timeouts and
                             dropped connections) and request_timeout_ms (default 60000: the longest wait
                             for each write of a request and each read of its answer); [server] listen,
                             drain_timeout_seconds, request_timeout_seconds; [export] key_prefix,
                             part_size_mib, buffer_budget_mib, max_parts_in_flight, max_running,
                             download_url_seconds, sweep_interval_ms;
                             [[datasets]] name, query, exact_count
)";
}

}  // namespace pg2s3::app
