#include "engine/detail/split_output.hpp"

#include "async/sync.hpp"
#include "engine/compressor.hpp"

#include "engine/detail/manifest.hpp"
#include "engine/detail/parallel_export.hpp"
#include "engine/detail/part_source.hpp"
#include "engine/detail/part_writer.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

namespace pg2s3::engine::detail {

namespace asio = boost::asio;

namespace {

// The CSV header line exactly as the dataset's COPY prints it, from a COPY that reads no row.
asio::awaitable<Result<std::string>> copy_header(pg::Connection& coordinator, const std::string& query) {
  const std::string copy = "COPY (SELECT * FROM (" + query + ") AS q LIMIT 0) TO STDOUT WITH (FORMAT csv, HEADER)";
  auto stream = co_await coordinator.copy_out(copy);
  if (!stream) co_return failure("reading the header", stream.error());
  std::string header;
  for (;;) {
    auto more = co_await stream->read(header, header.size() + 64 * 1024);
    if (!more) co_return failure("reading the header", more.error());
    if (!*more) co_return header;
  }
}

// The dataset's columns and PostgreSQL's names of their types, all named by one query.
asio::awaitable<Result<std::vector<ManifestColumn>>> manifest_columns(pg::Connection& coordinator, const std::string& query) {
  const std::string describe = "SELECT * FROM (" + query + ") AS q LIMIT 0";
  auto described = co_await coordinator.query(describe);
  if (!described) co_return failure("describing the columns", described.error());
  std::string oids = "{";
  for (int column = 0; column < described->columns(); ++column)
    oids += (column ? "," : "") + std::to_string(described->column_type(column));
  const std::vector<pg::Parameter> types{oids + "}"};
  auto named = co_await coordinator.query("SELECT oid, typname FROM pg_type WHERE oid = ANY($1::oid[])", types);
  if (!named) co_return failure("naming the column types", named.error());
  std::map<std::int64_t, std::string> type_names;  // by OID
  for (int row = 0; row < named->rows(); ++row)
    type_names.emplace(named->int64(row, "oid").value_or(0), named->text(row, "typname").value_or(""));
  std::vector<ManifestColumn> columns;
  for (int column = 0; column < described->columns(); ++column) {
    const auto type = type_names.find(described->column_type(column));
    columns.push_back({std::string(described->column_name(column)), type == type_names.end() ? std::string() : type->second});
  }
  co_return columns;
}

Result<std::string> compressed(std::string_view text, Compression compression) {
  auto compressor = Compressor::create(compression);
  if (!compressor) return compressor.error();
  std::string out;
  if (auto written = (*compressor)->write(text, out, true); !written) return written.error();
  return out;
}

// The pieces, whole rows each, cut into files: a file ends before a piece that would take it past the
// limit, and each starts with the header.
class FileSplitter final : public PieceSink {
 public:
  FileSplitter(asio::any_io_executor executor, const EngineConfig& config, s3::Client& client,
               const ExportTarget& target, const PartPlan& plan, BufferPool& pool, ExportProgress& progress,
               std::string header)
      : executor_(std::move(executor)), config_(config), client_(client), target_(target), plan_(plan), pool_(pool),
        progress_(progress), header_(std::move(header)) {}

  asio::awaitable<Result<void>> take(std::string_view bytes, std::int64_t rows) override {
    if (header_.size() + bytes.size() > target_.max_file_size)
      co_return Error{errc::invalid_request, std::to_string(header_.size() + bytes.size()) + " bytes of " +
                                                 std::to_string(rows) + " row(s) with the header do not fit in maxFileSize (" +
                                                 std::to_string(target_.max_file_size) + " bytes)"};
    if (parts_ && file_.bytes + bytes.size() > target_.max_file_size) {
      if (auto closed = co_await close_file(); !closed) co_return closed;
      if (files_.size() >= config_.max_split_files)
        co_return Error{errc::invalid_request, "the export needs more than " + std::to_string(config_.max_split_files) +
                                                   " files of maxFileSize (" + std::to_string(target_.max_file_size) +
                                                   " bytes): ask for larger files"};
    }
    if (!parts_) {
      if (auto opened = co_await open_file(); !opened) co_return opened;
    }
    file_.bytes += bytes.size();
    file_.records += rows;
    co_return co_await parts_->take(bytes, rows);
  }

  // The last file gets its last part, and stays open until complete().
  asio::awaitable<Result<void>> end() override {
    if (!parts_) {  // no row at all: one file of the header alone
      if (auto opened = co_await open_file(); !opened) co_return opened;
    }
    co_return co_await parts_->end();
  }

  void stop() override {
    if (parts_) parts_->stop();
  }

  asio::awaitable<Result<void>> settle() override {
    if (!parts_) co_return Result<void>{};
    co_return co_await parts_->settle();
  }

  // Completes the last file, once everything has been read and committed.
  asio::awaitable<Result<void>> complete() {
    auto completed = co_await writer_->complete();
    if (!completed) co_return completed;
    finished_file();
    co_return Result<void>{};
  }

  // Leaves nothing: the open file aborted, every finished one deleted unless another attempt may have taken
  // their keys over; the first reason it could not. Whatever it left (the files too, when it could not
  // learn whether the job is still its own) stays on record, as an upload id of the output, for the sweep.
  asio::awaitable<Result<void>> remove() {
    auto removed = co_await remove_files();
    progress_.upload_id = removed && !files_left_ ? std::string() : last_upload_id_;
    progress_.changed();
    co_return removed;
  }

  const std::vector<ManifestFile>& files() const { return files_; }

 private:
  asio::awaitable<Result<void>> remove_files() {
    Result<void> removed;
    if (writer_) removed = co_await writer_->abort();
    if (files_.empty()) co_return removed;
    files_left_ = true;
    if (progress_.output_taken_over) co_return removed;
    if (progress_.output_still_ours) {
      const bool ours = co_await progress_.output_still_ours();
      if (!ours) co_return removed;
    }
    files_left_ = false;
    for (const auto& file : files_) {
      auto deleted = co_await delete_file(file.key);
      if (removed && !deleted) removed = deleted;
    }
    co_return removed;
  }

  bool local() const { return !target_.output_path.empty(); }
  const std::string& prefix() const { return local() ? target_.output_path : target_.s3_key; }

  asio::awaitable<Result<void>> open_file() {
    file_ = {split_file_key(prefix(), files_.size(), target_.format, target_.compression), header_.size(), 0};
    auto opening = open_part_writer(config_, client_, target_, file_.key);
    auto writer = co_await async::uninterrupted(std::move(opening));  // else an upload nobody knows of may be left
    if (!writer) co_return writer.error();
    writer_ = std::move(*writer);
    // On record while the file is open, so that a killed or failed attempt's file is cleaned up by whoever
    // comes next (the sweep treats a split output's recorded upload as "clean the prefix").
    progress_.upload_id = last_upload_id_ = std::string(writer_->upload_id());
    progress_.changed();
    parts_ = object_parts(executor_, *writer_, pool_, plan_, config_.max_parts_in_flight, progress_);
    co_return co_await parts_->take(header_, 0);
  }

  // A file completed by an attempt that has lost its lease would replace the one the attempt that took
  // over wrote under the same key: the lease is confirmed before each file, as before the last.
  asio::awaitable<Result<void>> close_file() {
    if (auto ended = co_await parts_->end(); !ended) co_return ended;
    if (auto settled = co_await parts_->settle(); !settled) co_return settled;
    if (progress_.before_complete) {
      if (auto confirmed = co_await progress_.before_complete(); !confirmed) co_return confirmed;
    }
    co_return co_await complete();
  }

  void finished_file() {
    files_.push_back(file_);
    parts_.reset();
    writer_.reset();
    progress_.upload_id.clear();
    progress_.files = static_cast<int>(files_.size());
    progress_.changed();
  }

  asio::awaitable<Result<void>> delete_file(const std::string& key) {
    if (local()) {
      std::error_code ec;
      std::filesystem::remove(key, ec);
      if (ec) co_return Error{ec, "removing " + key + ": " + ec.message()};
      co_return Result<void>{};
    }
    auto deleted = co_await client_.delete_object(config_.bucket, key);
    if (!deleted) co_return failure(deleted.error());
    co_return Result<void>{};
  }

  asio::any_io_executor executor_;
  const EngineConfig& config_;
  s3::Client& client_;
  const ExportTarget& target_;
  const PartPlan& plan_;
  BufferPool& pool_;
  ExportProgress& progress_;
  std::string header_;  // compressed on its own when the files are
  std::string last_upload_id_;  // of the file opened last
  bool files_left_ = false;     // remove() left finished files in place
  std::vector<ManifestFile> files_;  // finished
  ManifestFile file_;  // being written
  std::unique_ptr<PartWriter> writer_;
  std::unique_ptr<PieceSink> parts_;
};

asio::awaitable<Result<void>> write_manifest(const EngineConfig& config, s3::Client& client, const ExportTarget& target,
                                             const std::string& body) {
  if (!target.output_path.empty()) {  // as a file of the output is: written whole and synced, then renamed
    auto file = FilePartWriter::open(co_await asio::this_coro::executor, manifest_key(target.output_path));
    if (!file) co_return file.error();
    if (auto written = co_await (*file)->write(body); !written) {
      co_await (*file)->abort();
      co_return written;
    }
    co_return co_await (*file)->complete();
  }
  const std::string key = manifest_key(target.s3_key);
  auto put = co_await client.put_object(config.bucket, key, body, "application/json",
                                        &upload_options(config, target.dataset->name));
  if (!put) co_return failure(put.error());
  co_return Result<void>{};
}

// The readers are done: the snapshot's transaction ends, then the last file and the manifest appear,
// unless the export was stopped meanwhile.
asio::awaitable<Result<void>> commit_files(const EngineConfig& config, s3::Client& client, const ExportTarget& target,
                                           pg::Connection& coordinator, FileSplitter& files, Manifest manifest,
                                           ExportProgress& progress) {
  if (auto ended = co_await end_snapshot(coordinator, progress); !ended) co_return ended;
  auto completing = files.complete();
  if (auto completed = co_await async::uninterrupted(std::move(completing)); !completed) co_return completed;
  manifest.files = files.files();
  const std::string body = manifest_json(manifest, target.output_path.empty() ? config.bucket : std::string());
  auto writing = write_manifest(config, client, target, body);
  co_return co_await async::uninterrupted(std::move(writing));
}

}  // namespace

std::string split_file_key(std::string_view prefix, std::size_t index, Format format, Compression compression) {
  char number[16];
  std::snprintf(number, sizeof number, "%05zu", index);
  return std::string(prefix) + "/part-" + number + std::string(file_extension(format, compression));
}

std::string manifest_key(std::string_view prefix) { return std::string(prefix) + "/manifest.json"; }

asio::awaitable<Result<void>> abort_split_uploads(s3::Client& client, const std::string& bucket, std::string_view prefix,
                                                  std::string_view only_upload_id) {
  auto open = co_await client.list_multipart_uploads(bucket, std::string(prefix) + "/part-");
  if (!open) co_return failure(open.error());
  for (const auto& upload : *open) {
    if (!only_upload_id.empty() && upload.upload_id != only_upload_id) continue;
    auto aborted = co_await client.abort_multipart_upload(bucket, upload.key, upload.upload_id);
    if (!aborted && aborted.error().s3_code != "NoSuchUpload") co_return failure(aborted.error());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> delete_split_output(s3::Client& client, const std::string& bucket, std::string_view prefix) {
  constexpr std::string_view every_upload;
  if (auto deleted = co_await client.delete_object(bucket, manifest_key(prefix)); !deleted)
    co_return failure(deleted.error());
  if (auto aborted = co_await abort_split_uploads(client, bucket, prefix, every_upload); !aborted) co_return aborted;
  auto listed = co_await client.list_objects(bucket, std::string(prefix) + "/part-");
  if (!listed) co_return failure(listed.error());
  for (const auto& file : *listed) {
    if (auto deleted = co_await client.delete_object(bucket, file.key); !deleted)
      co_return failure(deleted.error());
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> export_files(const EngineConfig& config, s3::Client& client, BufferPool& pool,
                                           const ExportTarget& target, pg::Connection& coordinator,
                                           std::optional<std::uint64_t> estimated_bytes, const PartPlan& plan,
                                           ExportProgress& progress) {
  const auto& dataset = *target.dataset;
  auto header = co_await copy_header(coordinator, dataset.query);
  if (!header) co_return header.error();
  auto columns = co_await manifest_columns(coordinator, dataset.query);
  if (!columns) co_return columns.error();
  auto snapshot = co_await export_snapshot(coordinator);
  if (!snapshot) co_return snapshot.error();
  ParallelRead read{*snapshot, {dataset.query}, false, true, largest_piece};
  if (target.parallelism > 1) {
    auto ranges = co_await range_queries(coordinator, dataset, estimated_bytes, config.range_size);
    if (!ranges) co_return ranges.error();
    read.range_queries = std::move(*ranges);
  }
  auto compressed_header = compressed(*header, target.compression);
  if (!compressed_header) co_return compressed_header.error();
  const std::string& file_header = *compressed_header;
  // A file ends between pieces: small ones, against a small limit, keep files near it.
  const std::uint64_t room = target.max_file_size > file_header.size() ? target.max_file_size - file_header.size() : 1;
  read.piece_size = static_cast<std::size_t>(std::clamp<std::uint64_t>(room / 4, 1, largest_piece));
  if (!target.output_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(target.output_path, ec);
    if (ec) co_return Error{ec, "creating the directory " + target.output_path + ": " + ec.message()};
  }

  FileSplitter files(co_await asio::this_coro::executor, config, client, target, plan, pool, progress, file_header);
  auto written = co_await transfer_in_parallel(config, target, read, files, pool, progress);
  if (written) {
    const Manifest manifest{target.job_id, dataset.name, std::string(to_string(target.format)),
                            std::string(to_string(target.compression)), std::move(*columns), *snapshot, {}};
    written = co_await commit_files(config, client, target, coordinator, files, manifest, progress);
  }
  if (written) co_return written;
  auto removing = files.remove();
  if (auto removed = co_await async::uninterrupted(std::move(removing)); !removed) progress.abort_failure = removed.error().message;
  co_return written;
}

}  // namespace pg2s3::engine::detail
