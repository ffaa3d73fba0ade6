#include "engine/job.hpp"

#include <array>
#include <charconv>
#include <ctime>
#include <limits>
#include <random>

namespace pg2s3::engine {

std::string_view to_string(JobStatus status) {
  switch (status) {
    case JobStatus::pending: return "PENDING";
    case JobStatus::running: return "RUNNING";
    case JobStatus::completed: return "COMPLETED";
    case JobStatus::failed: return "FAILED";
    case JobStatus::cancelled: return "CANCELLED";
  }
  return "FAILED";
}

std::optional<JobStatus> parse_job_status(std::string_view text) {
  for (auto status : {JobStatus::pending, JobStatus::running, JobStatus::completed, JobStatus::failed,
                      JobStatus::cancelled})
    if (text == to_string(status)) return status;
  return std::nullopt;
}

bool is_final(JobStatus status) { return status != JobStatus::pending && status != JobStatus::running; }

bool can_transition(JobStatus from, JobStatus to) {
  switch (from) {
    case JobStatus::pending: return to != JobStatus::pending && to != JobStatus::completed;
    case JobStatus::running: return is_final(to);
    default: return false;
  }
}

std::string_view to_string(Format format) { return format == Format::parquet ? "parquet" : "csv"; }

std::optional<Format> parse_format(std::string_view text) {
  for (auto format : {Format::csv, Format::parquet})
    if (text == to_string(format)) return format;
  return std::nullopt;
}

std::string_view to_string(Compression compression) {
  switch (compression) {
    case Compression::none: return "none";
    case Compression::snappy: return "snappy";
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
  }
  return "none";
}

std::optional<Compression> parse_compression(std::string_view text) {
  for (auto compression : {Compression::none, Compression::snappy, Compression::gzip, Compression::zstd})
    if (text == to_string(compression)) return compression;
  return std::nullopt;
}

Compression default_compression(Format format) { return format == Format::parquet ? Compression::zstd : Compression::none; }

std::optional<std::string> refuse_compression(Format format, Compression compression) {
  if (format == Format::csv && compression == Compression::snappy)
    return "compression \"snappy\" is for Parquet pages; a CSV export takes none, gzip or zstd";
  return std::nullopt;
}

std::string_view file_extension(Format format, Compression compression) {
  if (format == Format::parquet) return ".parquet";  // the codec is inside, page by page
  switch (compression) {
    case Compression::gzip: return ".csv.gz";
    case Compression::zstd: return ".csv.zst";
    default: return ".csv";
  }
}

std::string_view content_type(Format format, Compression compression) {
  if (format == Format::parquet) return "application/vnd.apache.parquet";
  switch (compression) {
    case Compression::gzip: return "application/gzip";
    case Compression::zstd: return "application/zstd";
    default: return "text/csv";
  }
}

namespace {
std::string_view last_part(std::string_view key) {
  const auto slash = key.rfind('/');
  return key.substr(slash == std::string_view::npos ? 0 : slash + 1);
}
}  // namespace

bool writes_its_own_key(const JobRecord& job) {
  if (job.local_output || job.max_file_size > 0 || job.id.empty()) return false;
  return last_part(job.s3_key).starts_with(job.id);
}

bool writes_its_own_prefix(const JobRecord& job) {
  if (job.local_output || job.max_file_size == 0 || job.id.empty()) return false;
  return last_part(job.s3_key) == job.id;
}

int progress_percent(const JobRecord& job) {
  if (job.status == JobStatus::completed) return 100;
  if (!job.total_records || *job.total_records <= 0 || job.processed_records <= 0) return 0;
  const auto percent = job.processed_records * 100 / *job.total_records;
  return static_cast<int>(std::min<std::int64_t>(percent, 99));
}

std::string new_job_id() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const auto word = random();
    for (std::size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<unsigned char>(word >> (8 * j));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char digits[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(digits[bytes[i] >> 4]);
    id.push_back(digits[bytes[i] & 0xF]);
  }
  return id;
}

bool is_job_id(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::string iso8601(TimePoint time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm));
}

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  static const std::pair<std::string_view, std::uint64_t> units[] = {
      {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
      {"kB", 1000}, {"KB", 1000}, {"MB", 1000'000}, {"GB", 1000'000'000}, {"TB", 1000'000'000'000}};
  for (const auto& [name, scale] : units) {
    if (unit != name) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
    return number * scale;
  }
  return std::nullopt;
}

}  // namespace pg2s3::engine
