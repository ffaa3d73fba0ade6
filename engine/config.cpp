#include "engine/config.hpp"

namespace pg2s3::engine {

std::vector<Dataset> default_datasets() {
  Dataset users{"users", "SELECT id, email, name, created_at FROM users", false};
  users.description = "Every user: id, email, name, created_at";
  return {std::move(users)};
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
