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

// A metric with a single sample.
void metric(std::string& text, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  family(text, name, type, help);
  sample(text, name, value);
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
  metric(text, "pg2s3_rows_exported_total", "counter", "Rows of completed exports.", metrics.rows_exported);
  metric(text, "pg2s3_bytes_exported_total", "counter", "Bytes of completed exports, as stored.",
         metrics.bytes_exported);
  metric(text, "pg2s3_parts_uploaded_total", "counter", "Parts written by exports that ended.",
         metrics.parts_uploaded);
  metric(text, "pg2s3_s3_retries_total", "counter", "S3 requests sent again after a retryable failure.",
         metrics.s3_retries);
  metric(text, "pg2s3_buffer_pool_bytes_in_use", "gauge", "Bytes of part buffers lent to exports.",
         metrics.buffer_bytes_in_use);
  metric(text, "pg2s3_buffer_pool_bytes_held", "gauge", "Bytes of part buffers lent or kept for reuse.",
         metrics.buffer_bytes_held);
  metric(text, "pg2s3_exports_running", "gauge", "Exports running now.", metrics.exports_running);
  metric(text, "pg2s3_exports_waiting", "gauge", "Exports waiting to run (PENDING).", metrics.exports_waiting);
  metric(text, "pg2s3_exports_stalled", "gauge", "Exports running here with no row read and no byte uploaded for a while.",
         metrics.exports_stalled);
  return text;
}

}  // namespace pg2s3::http
