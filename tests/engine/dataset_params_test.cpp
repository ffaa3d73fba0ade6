// A dataset's parameters as plain functions: the $n lexer, the load-time checks, resolution and binding.
#include "engine/dataset_params.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3::engine;

namespace {

std::vector<int> numbers_in(std::string_view query) {
  std::vector<int> numbers;
  for (const auto& placeholder : find_placeholders(query)) numbers.push_back(placeholder.number);
  return numbers;
}

Dataset orders() {
  Dataset dataset;
  dataset.name = "orders";
  dataset.query = "SELECT * FROM orders WHERE created_at >= $1 AND created_at < $2 AND tenant_id = $3";
  dataset.params = {{"from", "timestamptz", false, std::nullopt},
                    {"to", "timestamptz", false, "infinity"},
                    {"tenant", "int8", true, std::nullopt}};
  return dataset;
}

}  // namespace

TEST_CASE("$n is found only where PostgreSQL reads a parameter", "[dataset_params]") {
  CHECK(numbers_in("SELECT $1, $2::int, ($10)") == std::vector{1, 2, 10});
  const auto where = find_placeholders("SELECT x FROM t WHERE a = $12 AND b");
  REQUIRE(where.size() == 1);
  CHECK(where[0] == Placeholder{26, 3, 12});
  CHECK(numbers_in("SELECT '$1', 'it''s $2', $3") == std::vector{3});
  CHECK(numbers_in(R"(SELECT E'\'$1', e'\\' || $2, E'it''s $3')") == std::vector{2});
  CHECK(numbers_in(R"(SELECT '\' , $1)") == std::vector{1});  // a plain '' string takes no backslash escape
  CHECK(numbers_in(R"(SELECT "col$1", "a""$2", $3)") == std::vector{3});
  CHECK(numbers_in("SELECT 1 -- $1\n, $2 /* $3 /* $4 */ $5 */ , $6") == std::vector{2, 6});
  CHECK(numbers_in("SELECT $$ $1 $$, $tag$ $2 $$ $3 $tag$, $4") == std::vector{4});
  CHECK(numbers_in("SELECT abc$1, a$b, $1") == std::vector{1});  // '$' continues an identifier
  CHECK(numbers_in("SELECT 'unterminated $1") == std::vector<int>{});
  CHECK(numbers_in("SELECT $99999999999") == std::vector{1'000'000});
  CHECK(numbers_in("SELECT $") == std::vector<int>{});
}

TEST_CASE("a dataset's parameters must match its query's placeholders at load", "[dataset_params]") {
  CHECK_FALSE(refuse_params(orders()));
  auto unused = orders();
  unused.query = "SELECT * FROM orders WHERE created_at >= $1 AND tenant_id = $3";
  CHECK_THAT(*refuse_params(unused), Catch::Contains("'to'") && Catch::Contains("$2"));
  auto undeclared = orders();
  undeclared.query += " AND $4 IS NULL";
  CHECK_THAT(*refuse_params(undeclared), Catch::Contains("$4"));
  auto in_string = orders();
  in_string.query = "SELECT '$1', '$2', '$3'";
  CHECK(refuse_params(in_string));
  auto bad_type = orders();
  bad_type.params[0].type = "int8); DROP TABLE users; --";
  CHECK_THAT(*refuse_params(bad_type), Catch::Contains("type"));
  auto twice = orders();
  twice.params[1].name = "from";
  CHECK_THAT(*refuse_params(twice), Catch::Contains("twice"));
  auto required_default = orders();
  required_default.params[2].default_value = "1";
  CHECK(refuse_params(required_default));
  for (auto type : {"int8", "timestamp with time zone", "numeric(12,2)", "text[]", "pg_catalog.int4", "varchar(10)[]"})
    CHECK(is_type_name(type));
  for (auto type : {"", "Int8", "int8 ", "int8;", "numeric(12", "text[", "(int8)", "int8::text", "a  b", "x'y"})
    CHECK_FALSE(is_type_name(type));
}

TEST_CASE("a request's values: defaults, required, unknown names, NUL bytes", "[dataset_params]") {
  auto values = resolve_params(orders(), {{"tenant", "42"}, {"from", "2026-01-01"}});
  REQUIRE(values.has_value());
  CHECK(values.value() == ParamValues{{"from", "2026-01-01"}, {"to", "infinity"}, {"tenant", "42"}});
  auto only_tenant = resolve_params(orders(), {{"tenant", "7"}}).value();
  CHECK(only_tenant.at("from") == std::nullopt);

  auto missing = resolve_params(orders(), {{"from", "2026-01-01"}});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == errc::invalid_request);
  CHECK_THAT(missing.error().message, Catch::Contains("'tenant'") && Catch::Contains("required"));
  auto unknown = resolve_params(orders(), {{"tenant", "1"}, {"limit", "5"}});
  REQUIRE_FALSE(unknown.has_value());
  CHECK_THAT(unknown.error().message, Catch::Contains("'limit'"));
  auto nul = resolve_params(orders(), {{"tenant", std::string("1\0; DROP TABLE users", 20)}});
  REQUIRE_FALSE(nul.has_value());
  CHECK_THAT(nul.error().message, Catch::Contains("'tenant'") && Catch::Contains("NUL"));
  auto not_utf8 = resolve_params(orders(), {{"tenant", "\xC3\x28"}});
  REQUIRE_FALSE(not_utf8.has_value());
  CHECK_THAT(not_utf8.error().message, Catch::Contains("UTF-8"));
}

TEST_CASE("binding puts only hex digits of a value into the query", "[dataset_params]") {
  const std::string hostile = "'); DROP TABLE users; --\\' $$ \"x\" é";
  auto bound = bind_params(orders(), {{"from", hostile}, {"to", std::nullopt}, {"tenant", "42"}});
  REQUIRE(bound.has_value());
  CHECK(bound->query ==
        "SELECT * FROM orders WHERE created_at >= (pg_catalog.convert_from(pg_catalog.decode('" + hex(hostile) +
            "', 'hex'), 'UTF8')::timestamptz) AND created_at < (NULL::timestamptz) AND tenant_id = "
            "(pg_catalog.convert_from(pg_catalog.decode('3432', 'hex'), 'UTF8')::int8)");
  CHECK(hex("\x01\xff") == "01ff");
  auto lacking = bind_params(orders(), {{"from", "x"}, {"tenant", "1"}});
  REQUIRE_FALSE(lacking.has_value());
  CHECK_THAT(lacking.error().message, Catch::Contains("'to'"));
}
