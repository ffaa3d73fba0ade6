#include "engine/config.hpp"

namespace pg2s3::engine {

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

std::string quote_table(std::string_view name) {
  std::string quoted;
  for (;;) {
    const auto dot = name.find('.');
    quoted += quote_identifier(name.substr(0, dot));
    if (dot == std::string_view::npos) return quoted;
    quoted += '.';
    name.remove_prefix(dot + 1);
  }
}

std::string table_query(const Dataset& dataset) {
  std::string columns;
  for (const auto& column : dataset.columns) columns += (columns.empty() ? "" : ", ") + quote_identifier(column);
  std::string query = "SELECT " + (columns.empty() ? std::string("*") : columns) + " FROM " + quote_table(dataset.table);
  if (!dataset.where.empty()) query += " WHERE " + dataset.where;
  return query;
}

std::vector<Dataset> default_datasets() {
  Dataset users;
  users.name = "users";
  users.table = "users";
  users.columns = {"id", "email", "name", "created_at"};
  users.query = table_query(users);
  users.description = "Every user: id, email, name, created_at";
  return {std::move(users)};
}

const std::string& jobs_database_url(const EngineConfig& config) {
  return config.jobs.database_url.empty() ? config.database_url : config.jobs.database_url;
}

const std::string& jobs_listen_url(const EngineConfig& config) {
  return config.jobs.listen_url.empty() ? jobs_database_url(config) : config.jobs.listen_url;
}

const Dataset* find_dataset(const EngineConfig& config, std::string_view name) {
  for (const auto& dataset : config.datasets)
    if (dataset.name == name) return &dataset;
  return nullptr;
}

const s3::UploadOptions& upload_options(const EngineConfig& config, std::string_view dataset) {
  auto own = config.dataset_uploads.find(dataset);
  return own == config.dataset_uploads.end() ? config.upload : own->second;
}

}  // namespace pg2s3::engine
