// `pg2s3 export`: one export in this process, progress on stderr, the final status as JSON.
#pragma once

#include "app/settings.hpp"
#include "engine/dataset_params.hpp"
#include "engine/job.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pg2s3::app {

struct ExportArguments {
  std::string dataset;
  std::string key;
  std::string compression;  // empty: the format's default
  std::string format;       // empty: the dataset's
  std::string output;  // a file, "-" for stdout, or empty for S3
  std::optional<int> parallelism;  // none: the dataset's
  std::string max_file_size;       // empty: the dataset's
  std::vector<std::string> params;  // "name=value", one per --param
};

// The --param arguments by name, or why they cannot be used (no '=', a name given twice).
std::variant<engine::ParamArguments, std::string> parse_param_arguments(const std::vector<std::string>& arguments);

// The process's exit status: 0 only when the job COMPLETED.
int run_export(const Settings& settings, const ExportArguments& arguments);

// One progress report: "users  1,234,567/10,000,000 rows  12%  185.3 MB/s  ETA 0:42".
std::string progress_line(const engine::JobRecord& job, double elapsed_seconds);

}  // namespace pg2s3::app
