#include "engine/dataset_params.hpp"

#include <simdjson.h>

#include <algorithm>

namespace pg2s3::engine {
namespace {

bool starts_identifier(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool continues_identifier(unsigned char c) { return starts_identifier(c) || std::isdigit(c) || c == '$'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The end of a quoted string or identifier that starts at `at`: doubled quotes stay inside, and so do
// backslash escapes in an E'' string.
std::size_t end_of_quoted(std::string_view text, std::size_t at, char quote, bool backslash_escapes) {
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (backslash_escapes && text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      if (i + 1 < text.size() && text[i + 1] == quote) ++i;
      else return i + 1;
    }
  }
  return text.size();
}

// Block comments nest in PostgreSQL.
std::size_t end_of_block_comment(std::string_view text, std::size_t at) {
  int depth = 0;
  for (std::size_t i = at; i + 1 < text.size(); ++i) {
    if (text[i] == '/' && text[i + 1] == '*') {
      ++depth;
      ++i;
    } else if (text[i] == '*' && text[i + 1] == '/') {
      ++i;
      if (--depth == 0) return i + 1;
    }
  }
  return text.size();
}

// At a '$' that does not start a parameter: the end of the dollar-quoted string it opens, or the next byte.
std::size_t after_dollar(std::string_view text, std::size_t at) {
  std::size_t tag_end = at + 1;
  while (tag_end < text.size() && text[tag_end] != '$' && continues_identifier(static_cast<unsigned char>(text[tag_end])))
    ++tag_end;
  if (tag_end >= text.size() || text[tag_end] != '$') return at + 1;
  const std::string_view tag = text.substr(at, tag_end - at + 1);
  const auto closing = text.find(tag, tag_end + 1);
  return closing == std::string_view::npos ? text.size() : closing + tag.size();
}

bool is_param_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
         std::ranges::all_of(name, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

Error invalid(std::string message) { return {errc::invalid_request, std::move(message)}; }

}  // namespace

std::vector<Placeholder> find_placeholders(std::string_view query) {
  std::vector<Placeholder> found;
  std::size_t i = 0;
  while (i < query.size()) {
    const char c = query[i];
    const char next = i + 1 < query.size() ? query[i + 1] : '\0';
    if (c == '-' && next == '-') {
      i = std::min(query.find('\n', i), query.size());
    } else if (c == '/' && next == '*') {
      i = end_of_block_comment(query, i);
    } else if (c == '\'' || c == '"') {
      i = end_of_quoted(query, i, c, false);
    } else if (starts_identifier(static_cast<unsigned char>(c))) {
      const std::size_t start = i;
      while (i < query.size() && continues_identifier(static_cast<unsigned char>(query[i]))) ++i;
      if (i - start == 1 && (c == 'e' || c == 'E') && i < query.size() && query[i] == '\'')
        i = end_of_quoted(query, i, '\'', true);
    } else if (c == '$' && is_digit(next)) {
      Placeholder placeholder{i, 1, 0};
      for (++i; i < query.size() && is_digit(query[i]); ++i, ++placeholder.length)
        placeholder.number = std::min(placeholder.number * 10 + (query[i] - '0'), 1'000'000);
      found.push_back(placeholder);
    } else if (c == '$') {
      i = after_dollar(query, i);
    } else {
      ++i;
    }
  }
  return found;
}

bool is_type_name(std::string_view type) {
  if (type.empty() || type.size() > 200) return false;
  std::size_t i = 0;
  auto word = [&] {
    const std::size_t start = i;
    if (i < type.size() && (std::islower(static_cast<unsigned char>(type[i])) || type[i] == '_')) ++i;
    else return false;
    while (i < type.size() && (std::islower(static_cast<unsigned char>(type[i])) ||
                               std::isdigit(static_cast<unsigned char>(type[i])) || type[i] == '_'))
      ++i;
    return i > start;
  };
  auto number = [&] {
    const std::size_t start = i;
    while (i < type.size() && is_digit(type[i])) ++i;
    return i > start;
  };
  if (!word()) return false;
  while (i < type.size() && (type[i] == ' ' || type[i] == '.')) {
    ++i;
    if (!word()) return false;
  }
  if (i < type.size() && type[i] == '(') {
    ++i;
    if (!number()) return false;
    if (i < type.size() && type[i] == ',') {
      ++i;
      if (!number()) return false;
    }
    if (i >= type.size() || type[i++] != ')') return false;
  }
  while (type.substr(i).starts_with("[]")) i += 2;
  return i == type.size();
}

std::optional<std::string> refuse_params(const Dataset& dataset) {
  const auto& params = dataset.params;
  for (std::size_t p = 0; p < params.size(); ++p) {
    const auto& param = params[p];
    if (!is_param_name(param.name))
      return "parameter name '" + param.name + "' must be a letter or '_' then letters, digits or '_'";
    if (std::count_if(params.begin(), params.end(), [&](const auto& other) { return other.name == param.name; }) > 1)
      return "parameter '" + param.name + "' is declared twice";
    if (!is_type_name(param.type))
      return "parameter '" + param.name + "': type '" + param.type +
             "' must be a lower-case type name such as int8, timestamptz, numeric(12,2) or text[]";
    if (param.required && param.default_value)
      return "parameter '" + param.name + "' is required, so it cannot have a default";
  }
  const auto placeholders = find_placeholders(dataset.query);
  for (const auto& placeholder : placeholders)
    if (placeholder.number < 1 || static_cast<std::size_t>(placeholder.number) > params.size())
      return "the query's " + std::string(dataset.query.substr(placeholder.offset, placeholder.length)) +
             " has no declared parameter (the query's $1, $2... are the params in their order)";
  for (std::size_t p = 0; p < params.size(); ++p)
    if (std::ranges::none_of(placeholders, [&](const auto& placeholder) { return placeholder.number == int(p + 1); }))
      return "parameter '" + params[p].name + "' is declared but the query has no $" + std::to_string(p + 1);
  return std::nullopt;
}

Result<ParamValues> resolve_params(const Dataset& dataset, const ParamArguments& given) {
  for (const auto& entry : given) {
    const std::string& name = entry.first;  // a plain name: clang 14's lambdas cannot capture a binding
    if (std::ranges::none_of(dataset.params, [&](const auto& param) { return param.name == name; })) {
      std::string known;
      for (const auto& param : dataset.params) known += (known.empty() ? "" : ", ") + param.name;
      return invalid("unknown parameter '" + name.substr(0, 64) + "': dataset " + dataset.name +
                     (known.empty() ? " takes none" : " takes " + known));
    }
  }
  ParamValues values;
  for (const auto& param : dataset.params) {
    auto it = given.find(param.name);
    if (it == given.end()) {
      if (param.required) return invalid("parameter '" + param.name + "' is required");
      values[param.name] = param.default_value;
      continue;
    }
    const std::string& value = it->second;
    if (value.find('\0') != std::string::npos) return invalid("parameter '" + param.name + "' must not hold a NUL character");
    if (!simdjson::validate_utf8(value.data(), value.size())) return invalid("parameter '" + param.name + "' must be UTF-8");
    values[param.name] = value;
  }
  return values;
}

std::string hex(std::string_view bytes) {
  constexpr std::string_view digits = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    text += digits[c >> 4];
    text += digits[c & 0xF];
  }
  return text;
}

std::string typed_value_sql(const std::optional<std::string>& value, std::string_view type) {
  if (!value) return "(NULL::" + std::string(type) + ")";
  return "(pg_catalog.convert_from(pg_catalog.decode('" + hex(*value) + "', 'hex'), 'UTF8')::" + std::string(type) + ")";
}

std::string cast_check_sql(std::string_view type) {
  return "SELECT pg_catalog.convert_from(pg_catalog.decode($1, 'hex'), 'UTF8')::" + std::string(type);
}

Result<Dataset> bind_params(const Dataset& dataset, const ParamValues& values) {
  Dataset bound = dataset;
  bound.query.clear();
  std::size_t copied = 0;
  for (const auto& placeholder : find_placeholders(dataset.query)) {
    if (placeholder.number < 1 || static_cast<std::size_t>(placeholder.number) > dataset.params.size())
      return invalid("dataset " + dataset.name + ": its query's $" + std::to_string(placeholder.number) + " has no parameter");
    const auto& param = dataset.params[static_cast<std::size_t>(placeholder.number - 1)];
    auto value = values.find(param.name);
    if (value == values.end())
      return invalid("dataset " + dataset.name + " now declares parameter '" + param.name + "', which the job lacks");
    bound.query.append(dataset.query, copied, placeholder.offset - copied);
    bound.query += typed_value_sql(value->second, param.type);
    copied = placeholder.offset + placeholder.length;
  }
  bound.query.append(dataset.query, copied);
  return bound;
}

}  // namespace pg2s3::engine
