#include "pg/error.hpp"

#include <stdexcept>

namespace pg2s3::pg {
namespace {

class PgCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "pg"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::server_error: return "the server reported an error";
      case errc::connection_failed: return "connection failed";
      case errc::connection_lost: return "connection lost";
      case errc::timed_out: return "connection timed out";
      case errc::busy: return "another operation is in progress on this connection";
      case errc::closed: return "the connection is closed";
      case errc::invalid_conninfo: return "invalid connection string";
      case errc::unexpected_result: return "unexpected kind of result";
    }
    return "unknown PostgreSQL error";
  }
};

}  // namespace

const boost::system::error_category& pg_category() noexcept {
  static const PgCategory category;
  return category;
}

boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), pg_category()}; }

std::string Error::message() const {
  std::string text = operation + ": ";
  text += sqlstate.empty() ? code.message() : "SQLSTATE " + sqlstate;
  if (!server_message.empty()) text += ": " + server_message;
  if (!detail.empty()) text += " (detail: " + detail + ")";
  if (!hint.empty()) text += " (hint: " + hint + ")";
  return text;
}

bool is_transient(const Error& error) {
  if (error.code.category() != pg_category()) return error.code != boost::system::errc::operation_canceled;
  switch (static_cast<errc>(error.code.value())) {
    case errc::connection_failed:
    case errc::connection_lost:
    case errc::timed_out:
      return true;
    case errc::server_error: {
      const std::string_view state = error.sqlstate;
      return state.starts_with("08") || state.starts_with("53") || state.starts_with("57P0");
    }
    default:
      return false;
  }
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.message());
}

}  // namespace pg2s3::pg
