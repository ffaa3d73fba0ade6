// The manifest of a split output: the files in order, in the shape Redshift's COPY ... MANIFEST reads,
// beside what pg2s3 knows of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::engine::detail {

struct ManifestFile {
  std::string key;  // in the bucket, or a path for a local output
  std::uint64_t bytes = 0;
  std::int64_t records = 0;
};

struct ManifestColumn {
  std::string name;
  std::string type;  // PostgreSQL's name of it: int4, text, timestamptz...
};

struct Manifest {
  std::string job_id;
  std::string dataset;
  std::string format;
  std::string compression;
  std::vector<ManifestColumn> columns;
  std::string snapshot;
  std::vector<ManifestFile> files;
};

// `bucket` empty: the files are local, and their URLs are their paths.
std::string manifest_json(const Manifest& manifest, std::string_view bucket);

// The files a manifest lists, read back; nothing when it is not one of pg2s3's manifests for `bucket`.
std::optional<std::vector<ManifestFile>> manifest_files(std::string_view json, std::string_view bucket);

}  // namespace pg2s3::engine::detail
