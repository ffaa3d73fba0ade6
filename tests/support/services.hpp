// Test helpers for the services of scripts/services: S3 settings, reading objects back, psql's own COPY.
#pragma once

#include "s3/client.hpp"
#include "tests/support/run.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

namespace pg2s3::test {

inline s3::ClientConfig rgw_config(s3::PayloadIntegrity integrity = s3::PayloadIntegrity::crc32c) {
  s3::ClientConfig config;
  config.endpoint = service_setting("PG2S3_S3_ENDPOINT");
  config.scope.region = service_setting("PG2S3_S3_REGION");
  config.credentials = {service_setting("AWS_ACCESS_KEY_ID"), service_setting("AWS_SECRET_ACCESS_KEY"), ""};
  config.payload_integrity = integrity;
  config.retry = {3, std::chrono::milliseconds(10), std::chrono::milliseconds(100)};
  return config;
}

inline const std::string& bucket() {
  static const std::string name = service_setting("PG2S3_S3_BUCKET");
  return name;
}

inline std::string database_url() { return service_setting("PG2S3_DATABASE_URL"); }

inline boost::asio::awaitable<s3::Result<std::string>> read_object(s3::Client& client, std::string_view key) {
  std::string bytes;
  s3::Client::BodySink sink = [&](std::string_view chunk) { bytes.append(chunk); };
  auto info = co_await client.get_object(bucket(), key, sink);
  if (!info) co_return info.error();
  co_return bytes;
}

// What a shell command prints on stdout; the test fails if it exits non-zero.
inline std::string command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string output;
  char chunk[65536];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) output.append(chunk, n);
  REQUIRE(pclose(pipe) == 0);
  return output;
}

// What PostgreSQL's own client prints for `COPY (query) TO STDOUT WITH (FORMAT csv, HEADER)`.
inline std::string psql_csv(const std::string& query) {
  return command_output("psql -X -q -v ON_ERROR_STOP=1 -d '" + database_url() + "' -c 'COPY (" + query +
                        ") TO STDOUT WITH (FORMAT csv, HEADER)'");
}

// Runs SQL with psql (as a fixture: what another process, or an older version, left in the database) and
// returns what it prints, unaligned and without headers.
inline std::string psql(const std::string& sql) {
  const std::string file = scratch_file("fixture.sql");
  std::ofstream(file) << sql;
  return command_output("psql -X -q -At -v ON_ERROR_STOP=1 -d '" + database_url() + "' -f " + file);
}

}  // namespace pg2s3::test
