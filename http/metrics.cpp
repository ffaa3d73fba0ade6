#include "http/metrics.hpp"

namespace pg2s3::http {
namespace {

void family(std::string& text, std::string_view name, std::string_view type, std::string_view help) {
  text.append("# HELP ").append(name).append(" ").append(help).append("\n");
  text.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& text, std::string_view name, std::uint64_t value) {
  text.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string prometheus_text(const engine::EngineMetrics& metrics) {
  std::string text;
  family(text, "pg2s3_exports_total", "counter", "Exports that ended since start, by final status.");
  for (auto status : {engine::JobStatus::completed, engine::JobStatus::failed, engine::JobStatus::cancelled}) {
    auto it = metrics.jobs_ended.find(status);
    std::string label(engine::to_string(status));
    sample(text, "pg2s3_exports_total{status=\"" + label + "\"}", it == metrics.jobs_ended.end() ? 0 : it->second);
  }
  family(text, "pg2s3_rows_exported_total", "counter", "Rows of completed exports.");
  sample(text, "pg2s3_rows_exported_total", metrics.rows_exported);
  family(text, "pg2s3_bytes_exported_total", "counter", "Bytes of completed exports, as stored.");
  sample(text, "pg2s3_bytes_exported_total", metrics.bytes_exported);
  family(text, "pg2s3_parts_uploaded_total", "counter", "Parts written by exports that ended.");
  sample(text, "pg2s3_parts_uploaded_total", metrics.parts_uploaded);
  family(text, "pg2s3_s3_retries_total", "counter", "S3 requests sent again after a retryable failure.");
  sample(text, "pg2s3_s3_retries_total", metrics.s3_retries);
  family(text, "pg2s3_buffer_pool_bytes_in_use", "gauge", "Bytes of part buffers lent to exports.");
  sample(text, "pg2s3_buffer_pool_bytes_in_use", metrics.buffer_bytes_in_use);
  family(text, "pg2s3_exports_running", "gauge", "Exports running now.");
  sample(text, "pg2s3_exports_running", metrics.exports_running);
  family(text, "pg2s3_exports_waiting", "gauge", "Exports waiting to run (PENDING).");
  sample(text, "pg2s3_exports_waiting", metrics.exports_waiting);
  return text;
}

}  // namespace pg2s3::http
