// A connection string taken apart: what connect() reads from it, adds to it, and names in its errors.
// Plain functions over PQconninfoParse's keywords and values, without sockets.
#pragma once

#include "pg/error.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pg2s3::pg::detail {

// The connection string's keywords and values, as PQconninfoParse read them.
using ConnectionParameters = std::vector<std::pair<std::string, std::string>>;

// Fails with errc::invalid_conninfo and a fixed text naming what is wrong, never a part of the string.
Result<ConnectionParameters> parse_conninfo(std::string_view conninfo);

// The keyword's value, else the environment variable's (when named), else "".
std::string parameter(const ConnectionParameters& parameters, std::string_view keyword, const char* environment);
void set_parameter(ConnectionParameters& parameters, std::string keyword, std::string value);

// "connect to host:port/dbname": what the errors name. Never the password.
std::string describe_target(const ConnectionParameters& parameters);

// The string's connect_timeout (libpq's minimum of 2 s applies), else 10 s.
std::chrono::steady_clock::duration connect_timeout(const ConnectionParameters& parameters);

// TCP keepalives and tcp_user_timeout, where the string sets none of its own. A database host that vanishes
// without a FIN or RST (a failed-over VM, a dropped NAT entry) otherwise leaves a connection waiting on a
// COPY or a LISTEN for the kernel's retransmission time, about 15 minutes; with these it fails in about
// 30 s. Probes are answered by the server's kernel, so a query that computes for an hour before its first
// row is not cut short.
void add_dead_peer_detection(ConnectionParameters& parameters);

}  // namespace pg2s3::pg::detail
