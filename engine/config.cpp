#include "engine/config.hpp"

namespace pg2s3::engine {

std::vector<Dataset> default_datasets() {
  return {{"users", "SELECT id, email, name, created_at FROM users", false}};
}

const Dataset* find_dataset(const EngineConfig& config, std::string_view name) {
  for (const auto& dataset : config.datasets)
    if (dataset.name == name) return &dataset;
  return nullptr;
}

}  // namespace pg2s3::engine
