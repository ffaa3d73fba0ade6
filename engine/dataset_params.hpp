// A dataset's typed parameters: its query's $n placeholders checked at load, a request's values resolved
// against the declaration, and the query bound to them without the values ever becoming SQL.
#pragma once

#include "engine/config.hpp"
#include "engine/error.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine {

// A $n of a query, outside string literals, quoted identifiers, comments and dollar-quoted strings.
struct Placeholder {
  std::size_t offset = 0;  // of the '$'
  std::size_t length = 0;  // of "$n"
  int number = 0;
  bool operator==(const Placeholder&) const = default;
};

std::vector<Placeholder> find_placeholders(std::string_view query);

// Whether a type name is one this project passes into SQL: lower-case words, a (n[,m]) modifier, [].
bool is_type_name(std::string_view type);

// The request's values of a dataset's parameters, by name, as text.
using ParamArguments = std::map<std::string, std::string, std::less<>>;

// Why the dataset's parameters do not fit its query (a declared one unused, a $n undeclared, a bad name
// or type), or nothing when they do.
std::optional<std::string> refuse_params(const Dataset& dataset);

// The request's values with the declared defaults; errc::invalid_request naming the parameter for an
// unknown name, a missing required one, or a value that cannot travel (a NUL byte, not UTF-8).
Result<ParamValues> resolve_params(const Dataset& dataset, const ParamArguments& given);

// The SQL that reads `value` as `type`: the value only as hex digits, decoded by the server, so that no
// byte of it is ever read as SQL whatever the session's encoding or standard_conforming_strings.
std::string typed_value_sql(const std::optional<std::string>& value, std::string_view type);
// The same with the hex digits as the statement's $1, to check that PostgreSQL takes the value.
std::string cast_check_sql(std::string_view type);
std::string hex(std::string_view bytes);

// The dataset with every $n of its query replaced by its parameter's typed value.
Result<Dataset> bind_params(const Dataset& dataset, const ParamValues& values);

}  // namespace pg2s3::engine
