// The connection string's plain rules: what connect() adds to it, without a server.
#include "pg/detail/conninfo.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3::pg;

namespace {
std::string value_of(const detail::ConnectionParameters& parameters, std::string_view keyword) {
  return detail::parameter(parameters, keyword, nullptr);
}
}  // namespace

TEST_CASE("a connection detects a vanished host by keepalives unless its string says otherwise", "[pg][conninfo]") {
  auto parameters = detail::parse_conninfo("postgresql://u@db.example:5433/d?keepalives_idle=60&tcp_user_timeout=0");
  REQUIRE(parameters.has_value());
  detail::add_dead_peer_detection(*parameters);
  CHECK(value_of(*parameters, "keepalives") == "1");
  CHECK(value_of(*parameters, "keepalives_idle") == "60");     // the string's own
  CHECK(value_of(*parameters, "tcp_user_timeout") == "0");     // the string's own, even turning it off
  CHECK(value_of(*parameters, "keepalives_interval") == "5");
  CHECK(value_of(*parameters, "keepalives_count") == "3");
  CHECK(value_of(*parameters, "host") == "db.example");

  auto turned_off = detail::parse_conninfo("host=db.example keepalives=0");
  REQUIRE(turned_off.has_value());
  detail::add_dead_peer_detection(*turned_off);
  CHECK(value_of(*turned_off, "keepalives") == "0");
}

TEST_CASE("a connect error names the target and never the password", "[pg][conninfo][secrets]") {
  auto parameters = detail::parse_conninfo("postgresql://u:s3cret@db.example:5433/orders");
  REQUIRE(parameters.has_value());
  CHECK(detail::describe_target(*parameters) == "connect to db.example:5433/orders");
  auto refused = detail::parse_conninfo("postgresql://u:p%zzs3cret@db.example/orders");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message().find("s3cret") == std::string::npos);
}
