// Errors of PostgreSQL operations as values: the operation, and the server's SQLSTATE, message, detail, hint.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <type_traits>

namespace pg2s3::pg {

// Failures this library reports besides the transport's own error codes (operation_aborted, host_not_found).
enum class errc {
  server_error = 1,   // the server refused the statement: see Error::sqlstate
  connection_failed,  // connecting or authenticating failed
  connection_lost,    // the connection broke during an operation
  timed_out,          // connecting took longer than connect_timeout
  busy,               // another operation is in progress on the connection
  closed,             // the connection was closed (by close(), or by a cancelled operation)
  invalid_conninfo,   // the connection string could not be parsed
  unexpected_result,  // the statement's result was not of the expected kind (a COPY that is not TO STDOUT)
};

const boost::system::error_category& pg_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

struct Error {
  boost::system::error_code code;
  std::string operation;       // "connect to 127.0.0.1:5432/db", "query", "COPY"
  std::string sqlstate;        // "42601"; empty unless the server said so
  std::string server_message;  // the server's primary message, or libpq's own words
  std::string detail;
  std::string hint;

  // "query: SQLSTATE 42601: syntax error at or near "SELEC""
  std::string message() const;
};

// Whether the same statement may succeed on another connection a little later: the connection failed, broke
// or timed out, or the server was shutting down, out of connections or ending the session (SQLSTATE classes 08,
// 53 and 57P0x). A statement the server refused (syntax, permissions, a bad value) is not.
bool is_transient(const Error& error);

template <class T>
using Result = boost::system::result<T, Error>;

[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& location);

}  // namespace pg2s3::pg

template <>
struct boost::system::is_error_code_enum<pg2s3::pg::errc> : std::true_type {};
