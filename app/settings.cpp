#include "app/settings.hpp"

#include "engine/dataset_params.hpp"
#include "http/cross_site.hpp"
#include "s3/credentials/shared_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>

namespace pg2s3::app {
namespace {

constexpr std::size_t mebibyte = 1024 * 1024;

// ------------------------------------------------------------------ the config file's schema
// Every key the file may hold is one line of a table below: its name, what it takes, where it goes.
// A key that is in no table, sits in the wrong one, or has a value of another type is refused.

template <class Target>
struct Key {
  std::string_view name;
  std::string expected;  // "a string", "at least 1 (a whole number)", ...
  // Sets the value; false when it has another type or is out of range.
  std::function<bool(Target&, const toml::node&)> apply;
};

template <class Target, class Member>
Key<Target> text(std::string_view name, Member member) {
  return {name, "a string", [member](Target& target, const toml::node& node) {
            auto value = node.value<std::string>();
            if (!node.is_string() || !value) return false;
            member(target) = std::move(*value);
            return true;
          }};
}

// An array of strings, each of which `valid` takes when given.
template <class Target, class Member>
Key<Target> texts(std::string_view name, Member member, std::string expected = "an array of strings",
                  std::function<bool(std::string_view)> valid = {}) {
  return {name, std::move(expected), [member, valid](Target& target, const toml::node& node) {
            const auto* array = node.as_array();
            if (!array) return false;
            std::vector<std::string> values;
            for (const auto& element : *array) {
              auto value = element.value<std::string>();
              if (!element.is_string() || !value || (valid && !valid(*value))) return false;
              values.push_back(std::move(*value));
            }
            member(target) = std::move(values);
            return true;
          }};
}

template <class Target, class Setter>
Key<Target> byte_size(std::string_view name, Setter set) {
  return {name, "a size such as \"256MiB\", or a number of bytes", [set](Target& target, const toml::node& node) {
            std::optional<std::uint64_t> size;
            if (auto text = node.value<std::string>(); node.is_string() && text) size = engine::parse_byte_size(*text);
            if (auto bytes = node.value<std::int64_t>(); node.is_integer() && bytes && *bytes > 0) size = *bytes;
            if (!size) return false;
            set(target, *size);
            return true;
          }};
}

template <class Target, class Setter>
Key<Target> whole(std::string_view name, std::int64_t least, Setter set) {
  const std::string expected = least > 0 ? "at least " + std::to_string(least) + " (a whole number)" : "a whole number";
  return {name, expected, [least, set](Target& target, const toml::node& node) {
            auto value = node.value<std::int64_t>();
            if (!node.is_integer() || !value || *value < least) return false;
            set(target, *value);
            return true;
          }};
}

template <class Target, class Member>
Key<Target> flag(std::string_view name, Member member) {
  return {name, "true or false", [member](Target& target, const toml::node& node) {
            if (!node.is_boolean()) return false;
            member(target) = *node.value<bool>();
            return true;
          }};
}

template <class Target, class Setter>
Key<Target> choice(std::string_view name, std::string_view expected, std::vector<std::string_view> allowed,
                   Setter set) {
  return {name, std::string(expected), [allowed, set](Target& target, const toml::node& node) {
            auto value = node.value<std::string>();
            if (!node.is_string() || !value || std::ranges::find(allowed, *value) == allowed.end()) return false;
            set(target, *value);
            return true;
          }};
}

s3::PayloadIntegrity integrity_of(std::string_view text) {
  return text == "sha256" ? s3::PayloadIntegrity::signed_sha256 : s3::PayloadIntegrity::crc32c;
}

// The upload options: in [s3] for every upload, in a [[datasets]] entry for that dataset's.
const std::vector<Key<s3::UploadOptions>>& upload_keys() {
  using U = s3::UploadOptions;
  static const std::vector<Key<U>> keys = {
      choice<U>("sse", "\"AES256\" or \"aws:kms\"", {"AES256", "aws:kms"}, [](U& u, std::string_view v) { u.sse = v; }),
      text<U>("sse_kms_key_id", [](U& u) -> std::string& { return u.sse_kms_key_id; }),
      {"sse_bucket_key", "true or false",
       [](U& u, const toml::node& node) {
         if (!node.is_boolean()) return false;
         u.sse_bucket_key = *node.value<bool>();
         return true;
       }},
      text<U>("storage_class", [](U& u) -> std::string& { return u.storage_class; }),
      {"tags", "a table of strings, as { team = \"data\" }",
       [](U& u, const toml::node& node) {
         const auto* table = node.as_table();
         if (!table) return false;
         u.tags.clear();
         for (const auto& [name, value] : *table) {
           if (!value.is_string()) return false;
           u.tags.emplace_back(std::string(name.str()), *value.value<std::string>());
         }
         return true;
       }},
      {"content_disposition", "a string",
       [](U& u, const toml::node& node) {
         if (!node.is_string()) return false;
         u.content_disposition = *node.value<std::string>();
         return true;
       }},
      text<U>("expected_bucket_owner", [](U& u) -> std::string& { return u.expected_bucket_owner; }),
      choice<U>("acl", "\"bucket-owner-full-control\"", {"bucket-owner-full-control"},
                [](U& u, std::string_view v) { u.acl = v; }),
      choice<U>("payload_integrity", "\"crc32c\" or \"sha256\"", {"crc32c", "sha256"},
                [](U& u, std::string_view v) { u.payload_integrity = integrity_of(v); }),
  };
  return keys;
}

const std::vector<Key<Settings>>& database_keys() {
  static const std::vector<Key<Settings>> keys = {
      text<Settings>("url", [](Settings& s) -> std::string& { return s.engine.database_url; }),
  };
  return keys;
}

const std::vector<Key<Settings>>& s3_keys() {
  using S = Settings;
  static const std::vector<Key<S>> keys = {
      text<S>("bucket", [](S& s) -> std::string& { return s.engine.bucket; }),
      text<S>("endpoint", [](S& s) -> std::string& { return s.engine.s3.endpoint; }),
      text<S>("public_endpoint", [](S& s) -> std::string& { return s.engine.s3.public_endpoint; }),
      text<S>("region", [](S& s) -> std::string& { return s.engine.s3.scope.region; }),
      choice<S>("addressing", "\"auto\", \"virtual\" or \"path\"", {"auto", "virtual", "path"},
                [](S& s, std::string_view v) { s.engine.s3.addressing = *s3::parse_addressing(v); }),
      text<S>("ca_file", [](S& s) -> std::string& { return s.engine.s3.ca_file; }),
      whole<S>("max_attempts", 1,
               [](S& s, std::int64_t v) { s.engine.s3.retry.max_attempts = static_cast<int>(v); }),
      whole<S>("request_timeout_ms", 1,
               [](S& s, std::int64_t v) { s.engine.s3.io_timeout = std::chrono::milliseconds(v); }),
  };
  return keys;
}

const std::vector<Key<Settings>>& server_keys() {
  using S = Settings;
  static const std::vector<Key<S>> keys = {
      text<S>("listen", [](S& s) -> std::string& { return s.listen; }),
      whole<S>("drain_timeout_seconds", 0,
               [](S& s, std::int64_t v) { s.drain_timeout = std::chrono::seconds(v); }),
      whole<S>("request_timeout_seconds", 1,
               [](S& s, std::int64_t v) { s.request_timeout = std::chrono::seconds(v); }),
      whole<S>("max_body_kib", 1, [](S& s, std::int64_t v) { s.body_limit = static_cast<std::size_t>(v) * 1024; }),
      whole<S>("max_pending", 1, [](S& s, std::int64_t v) { s.engine.jobs.max_pending = static_cast<int>(v); }),
      texts<S>("allowed_origins", [](S& s) -> std::vector<std::string>& { return s.allowed_origins; },
               "an array of origins as browsers send them: \"https://console.example:8443\", lower case, no path",
               http::is_origin),
      texts<S>("hostnames", [](S& s) -> std::vector<std::string>& { return s.hostnames; },
               "an array of host names, without scheme or port", http::is_hostname),
  };
  return keys;
}

const std::vector<Key<Settings>>& export_keys() {
  using S = Settings;
  static const std::vector<Key<S>> keys = {
      text<S>("key_prefix", [](S& s) -> std::string& { return s.engine.key_prefix; }),
      whole<S>("part_size_mib", 5,
               [](S& s, std::int64_t v) { s.engine.part_size = static_cast<std::size_t>(v) * mebibyte; }),
      whole<S>("buffer_budget_mib", 1,
               [](S& s, std::int64_t v) { s.engine.buffer_budget = static_cast<std::size_t>(v) * mebibyte; }),
      whole<S>("max_parts_in_flight", 1,
               [](S& s, std::int64_t v) { s.engine.max_parts_in_flight = static_cast<int>(v); }),
      // What came before max_parts_in_flight: the part filling plus those uploading.
      whole<S>("parts_per_export", 2,
               [](S& s, std::int64_t v) { s.engine.max_parts_in_flight = static_cast<int>(v) - 1; }),
      whole<S>("max_running", 1,
               [](S& s, std::int64_t v) { s.engine.max_running_exports = static_cast<int>(v); }),
      whole<S>("stall_after_seconds", 1,
               [](S& s, std::int64_t v) { s.engine.stall_after = std::chrono::seconds(v); }),
      whole<S>("download_url_seconds", 1,
               [](S& s, std::int64_t v) { s.engine.download_url_lifetime = std::chrono::seconds(v); }),
      whole<S>("sweep_interval_ms", 0,
               [](S& s, std::int64_t v) { s.engine.sweep_interval = std::chrono::milliseconds(v); }),
  };
  return keys;
}

const std::vector<Key<Settings>>& jobs_keys() {
  using S = Settings;
  using std::chrono::milliseconds;
  static const std::vector<Key<S>> keys = {
      whole<S>("lease_ms", 100, [](S& s, std::int64_t v) { s.engine.jobs.lease = milliseconds(v); }),
      whole<S>("heartbeat_ms", 10, [](S& s, std::int64_t v) { s.engine.progress_interval = milliseconds(v); }),
      whole<S>("poll_interval_ms", 10, [](S& s, std::int64_t v) { s.engine.jobs.poll_interval = milliseconds(v); }),
      whole<S>("rescue_interval_ms", 10, [](S& s, std::int64_t v) { s.engine.sweep_interval = milliseconds(v); }),
      whole<S>("retry_backoff_ms", 0, [](S& s, std::int64_t v) { s.engine.jobs.retry_backoff = milliseconds(v); }),
      whole<S>("max_attempts", 1, [](S& s, std::int64_t v) { s.engine.jobs.max_attempts = static_cast<int>(v); }),
      whole<S>("retention_days", 1, [](S& s, std::int64_t v) { s.engine.jobs.retention_days = static_cast<int>(v); }),
      text<S>("database_url", [](S& s) -> std::string& { return s.engine.jobs.database_url; }),
      text<S>("listen_url", [](S& s) -> std::string& { return s.engine.jobs.listen_url; }),
      whole<S>("unknown_dataset_after_ms", 1000,
               [](S& s, std::int64_t v) { s.engine.jobs.unknown_dataset_grace = milliseconds(v); }),
      whole<S>("statement_timeout_ms", 100,
               [](S& s, std::int64_t v) { s.engine.jobs.statement_timeout = milliseconds(v); }),
  };
  return keys;
}

// One entry of a dataset's params: { name = "tenant", type = "int8", required = true, default = "1" }.
std::optional<engine::DatasetParam> dataset_param(const toml::node& node) {
  const auto* table = node.as_table();
  if (!table) return std::nullopt;
  engine::DatasetParam param;
  for (const auto& [key, value] : *table) {
    const std::string_view name = key.str();
    if ((name == "name" || name == "type") && value.is_string()) {
      (name == "name" ? param.name : param.type) = *value.value<std::string>();
    } else if (name == "required" && value.is_boolean()) {
      param.required = *value.value<bool>();
    } else if (name == "default" && value.is_string()) {
      param.default_value = *value.value<std::string>();
    } else if (name == "default" && (value.is_integer() || value.is_boolean())) {
      param.default_value = value.is_integer() ? std::to_string(*value.value<std::int64_t>())
                                               : std::string(*value.value<bool>() ? "true" : "false");
    } else {
      return std::nullopt;
    }
  }
  if (param.name.empty() || param.type.empty()) return std::nullopt;
  return param;
}

const std::vector<Key<engine::Dataset>>& dataset_keys() {
  using D = engine::Dataset;
  static const std::vector<Key<D>> keys = {
      text<D>("name", [](D& d) -> std::string& { return d.name; }),
      text<D>("query", [](D& d) -> std::string& { return d.query; }),
      text<D>("description", [](D& d) -> std::string& { return d.description; }),
      {"params", "an array of { name = \"...\", type = \"...\", required = true|false, default = \"...\" }",
       [](D& d, const toml::node& node) {
         const auto* entries = node.as_array();
         if (!entries) return false;
         d.params.clear();
         for (const auto& entry : *entries) {
           auto param = dataset_param(entry);
           if (!param) return false;
           d.params.push_back(std::move(*param));
         }
         return true;
       }},
      flag<D>("exact_count", [](D& d) -> bool& { return d.exact_count; }),
      choice<D>("format", "\"csv\" or \"parquet\"", {"csv", "parquet"},
                [](D& d, std::string_view v) { d.format = *engine::parse_format(v); }),
      flag<D>("parquet_delta", [](D& d) -> bool& { return d.parquet_delta; }),
      text<D>("table", [](D& d) -> std::string& { return d.table; }),
      texts<D>("columns", [](D& d) -> std::vector<std::string>& { return d.columns; }),
      text<D>("where", [](D& d) -> std::string& { return d.where; }),
      whole<D>("parallelism", 1, [](D& d, std::int64_t v) { d.parallelism = static_cast<int>(v); }),
      byte_size<D>("max_file_size", [](D& d, std::uint64_t v) { d.max_file_size = v; }),
  };
  return keys;
}

struct TableSchema {
  std::string_view name;
  const std::vector<Key<Settings>>& keys;
  bool upload_options;  // also takes the upload options
};

const std::vector<TableSchema>& tables() {
  static const std::vector<TableSchema> all = {
      {"database", database_keys(), false},
      {"s3", s3_keys(), true},
      {"server", server_keys(), false},
      {"export", export_keys(), false},
      {"jobs", jobs_keys(), false},
  };
  return all;
}

template <class Target>
const Key<Target>* find_key(const std::vector<Key<Target>>& keys, std::string_view name) {
  for (const auto& key : keys)
    if (key.name == name) return &key;
  return nullptr;
}

// Where a key that is not in `here` does belong, to say so.
std::string home_of(std::string_view name, std::string_view here) {
  for (const auto& table : tables())
    if (table.name != here && (find_key(table.keys, name) || (table.upload_options && find_key(upload_keys(), name))))
      return "[" + std::string(table.name) + "]";
  if (here != "datasets" && (find_key(dataset_keys(), name))) return "[[datasets]]";
  return {};
}

// Reads one table of the file into `target` (and `upload`, for the upload options).
class FileReader {
 public:
  explicit FileReader(std::string path) : path_(std::move(path)) {}

  std::string problem(const toml::node& node, std::string_view what) const {
    return "config file " + path_ + " line " + std::to_string(node.source().begin.line) + ": " + std::string(what);
  }

  template <class Target>
  std::optional<std::string> read(const toml::table& table, std::string_view table_name,
                                   const std::vector<Key<Target>>& keys, Target& target, s3::UploadOptions* upload) {
    for (const auto& [name, node] : table) {
      const std::string dotted = std::string(table_name) + "." + std::string(name.str());
      if (const auto* key = find_key(keys, name.str())) {
        if (!key->apply(target, node)) return problem(node, dotted + " must be " + key->expected);
      } else if (const auto* option = upload ? find_key(upload_keys(), name.str()) : nullptr) {
        if (!option->apply(*upload, node)) return problem(node, dotted + " must be " + option->expected);
      } else {
        const std::string home = home_of(name.str(), table_name);
        return problem(node, home.empty() ? "unknown key " + dotted
                                          : "key " + dotted + " belongs in " + home + ", not here");
      }
    }
    return std::nullopt;
  }

 private:
  std::string path_;
};

// A dataset is a query, or a table (with optional columns and where): exactly one of them.
std::optional<std::string> complete_dataset(engine::Dataset& dataset) {
  if (dataset.name.empty()) return "every [[datasets]] needs a name";
  const std::string which = "dataset " + dataset.name + ": ";
  if (dataset.query.empty() == dataset.table.empty()) return which + "give either a query or a table, not both";
  if (dataset.query.empty()) {
    if (std::ranges::any_of(dataset.columns, [](const std::string& column) { return column.empty(); }))
      return which + "a column name is empty";
    dataset.query = engine::table_query(dataset);
  } else if (!dataset.columns.empty() || !dataset.where.empty()) {
    return which + "columns and where go with a table, not a query";
  }
  if (!dataset.table.empty() && !dataset.params.empty())
    return which + "params go with a query: a table's ranges are made from its columns and where alone";
  if (dataset.parallelism > engine::max_parallelism)
    return which + "parallelism must be 1 to " + std::to_string(engine::max_parallelism);
  if (dataset.parallelism > 1 && dataset.table.empty())
    return which + "parallelism needs a table: a query cannot be split";
  return std::nullopt;
}

std::optional<std::string> read_datasets(Settings& settings, const toml::node& node, FileReader& reader) {
  const auto* entries = node.as_array();
  if (!entries) return reader.problem(node, "datasets must be an array of tables: [[datasets]]");
  auto& engine = settings.engine;
  engine.datasets.clear();
  for (const auto& entry : *entries) {
    const auto* table = entry.as_table();
    if (!table) return reader.problem(entry, "datasets must be an array of tables: [[datasets]]");
    engine::Dataset dataset;
    s3::UploadOptions upload = engine.upload;
    if (auto problem = reader.read(*table, "datasets", dataset_keys(), dataset, &upload)) return problem;
    if (auto problem = complete_dataset(dataset)) return reader.problem(entry, *problem);
    if (auto problem = s3::check_upload_options(upload)) return reader.problem(entry, "dataset " + dataset.name + ": " + *problem);
    if (auto problem = engine::refuse_params(dataset)) return reader.problem(entry, "dataset " + dataset.name + ": " + *problem);
    if (std::ranges::any_of(*table, [](const auto& pair) { return find_key(upload_keys(), pair.first.str()); }))
      engine.dataset_uploads[dataset.name] = std::move(upload);
    engine.datasets.push_back(std::move(dataset));
  }
  return std::nullopt;
}

// Fills settings from the TOML file; the reason when it cannot.
std::optional<std::string> apply_file(Settings& settings, const std::string& path) {
  toml::table file;
  try {
    file = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    return "config file " + path + ": " + std::string(error.description()) + " (line " +
           std::to_string(error.source().begin.line) + ")";
  }
  FileReader reader(path);
  for (const auto& table : tables()) {  // [s3] before [[datasets]], whose upload options start from it
    const toml::node* node = file.get(table.name);
    if (!node) continue;
    if (!node->is_table()) return reader.problem(*node, std::string(table.name) + " must be a table: [" +
                                                            std::string(table.name) + "]");
    auto* upload = table.upload_options ? &settings.engine.upload : nullptr;
    if (auto problem = reader.read(*node->as_table(), table.name, table.keys, settings, upload)) return problem;
  }
  if (auto problem = s3::check_upload_options(settings.engine.upload)) return "config file " + path + ": [s3] " + *problem;
  for (const auto& entry : file) {
    const auto& [name, node] = entry;
    const std::string_view key = name.str();  // a plain name: clang 14's lambdas cannot capture a binding
    if (key == "datasets") {
      if (auto problem = read_datasets(settings, node, reader)) return problem;
    } else if (std::ranges::none_of(tables(), [&](const auto& table) { return table.name == key; })) {
      const std::string home = home_of(name.str(), "");
      return reader.problem(node, home.empty() ? "unknown key or table " + std::string(name.str())
                                               : "key " + std::string(name.str()) + " belongs in " + home);
    }
  }
  return std::nullopt;
}

// The S3 settings from the environment and the shared AWS files, over the config file's.
std::optional<std::string> apply_s3_environment(Settings& settings, const Environment& environment) {
  auto& s3 = settings.engine.s3;
  auto profile = s3::load_shared_profile(environment);
  if (auto* problem = std::get_if<std::string>(&profile)) return *problem;
  const auto& shared = std::get<s3::SharedProfile>(profile);
  s3.scope.region = s3::choose_region(environment, s3.scope.region, shared.get("region"));
  s3.endpoint = s3::choose_endpoint(environment, s3.endpoint, shared.get("endpoint_url"));
  if (auto addressing = environment("PG2S3_S3_ADDRESSING")) {
    auto parsed = s3::parse_addressing(*addressing);
    if (!parsed) return "PG2S3_S3_ADDRESSING must be auto, virtual or path, not '" + *addressing + "'";
    s3.addressing = *parsed;
  }
  if (settings.engine.upload.payload_integrity) s3.payload_integrity = *settings.engine.upload.payload_integrity;
  if (s3.expected_bucket_owner.empty()) s3.expected_bucket_owner = settings.engine.upload.expected_bucket_owner;
  s3.environment = environment;
  return std::nullopt;
}

void apply_environment(Settings& settings, const Environment& environment) {
  auto set = [&](const char* name, std::string& target) {
    if (auto value = environment(name)) target = *value;
  };
  auto& engine = settings.engine;
  set("PG2S3_DATABASE_URL", engine.database_url);
  set("PG2S3_JOBS_DATABASE_URL", engine.jobs.database_url);
  set("PG2S3_S3_BUCKET", engine.bucket);
  set("PG2S3_S3_PUBLIC_ENDPOINT", engine.s3.public_endpoint);
  set("PG2S3_LISTEN", settings.listen);
  set("PG2S3_API_TOKEN", settings.api_token);
}

}  // namespace

Environment process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

std::variant<Settings, std::string> load_settings(const Flags& flags, const Environment& environment) {
  Settings settings;
  settings.engine.s3.scope.region.clear();  // unset unless the file sets it: the profile's region comes after
  const std::string config_file = !flags.config_file.empty() ? flags.config_file
                                                             : environment("PG2S3_CONFIG").value_or("");
  if (!config_file.empty()) {
    if (auto problem = apply_file(settings, config_file)) return *problem;
  }
  apply_environment(settings, environment);
  if (auto problem = apply_s3_environment(settings, environment)) return *problem;
  if (!flags.listen.empty()) settings.listen = flags.listen;
  // Three heartbeats fit in a lease, so one slow or lost heartbeat does not cost the job.
  const auto& jobs = settings.engine.jobs;
  if (jobs.lease < 3 * settings.engine.progress_interval)
    return "config file " + config_file + ": [jobs] lease_ms (" + std::to_string(jobs.lease.count()) +
           ") must be at least three times heartbeat_ms (" + std::to_string(settings.engine.progress_interval.count()) + ")";
  // Every sweep records this process's datasets: a grace shorter than a few sweeps would fail its own jobs.
  if (jobs.unknown_dataset_grace < 3 * settings.engine.sweep_interval)
    return "config file " + config_file + ": [jobs] unknown_dataset_after_ms (" +
           std::to_string(jobs.unknown_dataset_grace.count()) + ") must be at least three times rescue_interval_ms (" +
           std::to_string(settings.engine.sweep_interval.count()) + ")";
  return settings;
}

std::string environment_help() {
  return R"(Environment (flags override it; it overrides the config file):
  PG2S3_DATABASE_URL         libpq connection string or URI (default: libpq's PG* variables)
  PG2S3_JOBS_DATABASE_URL    where export_jobs lives, if not there ([jobs] database_url; may be a
                             transaction-mode pooler, with [jobs] listen_url a direct connection)
  PG2S3_S3_BUCKET            bucket (required for S3 exports)
  PG2S3_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL  http(s)://host[:port]
                             (then the profile's endpoint_url; default: https://s3.<region>.amazonaws.com)
  PG2S3_S3_REGION, AWS_REGION, AWS_DEFAULT_REGION  signing region (then the profile's; default: us-east-1)
  PG2S3_S3_ADDRESSING        auto (default), virtual or path
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN;
  AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE; AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI;
  AWS_EC2_METADATA_DISABLED  credentials, by the AWS SDKs' chain (see README, "Deploying on AWS")
  PG2S3_S3_PUBLIC_ENDPOINT   endpoint written into presigned URLs (default: the endpoint)
  PG2S3_LISTEN               control API address (default: 127.0.0.1:8080)
  PG2S3_API_TOKEN            when set, API requests but GET /healthz need "Authorization: Bearer <token>"
  PG2S3_CONFIG               TOML config file (see README, "The configuration file"). Among its keys,
                             how long a hung or failing S3 keeps an export RUNNING: [s3] request_timeout_ms
                             (default 60000), the longest wait for each write of a request and each read of
                             its answer, and [s3] max_attempts (default 8), how often each request is tried
                             (with backoff) on 5xx, SlowDown, timeouts and dropped connections; and which
                             web pages may use the API: [server] allowed_origins (default none: a request
                             with an Origin header is 403) and [server] hostnames (Host names served besides
                             localhost and the listen address; others are 421)
)";
}

}  // namespace pg2s3::app
