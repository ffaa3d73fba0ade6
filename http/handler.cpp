#include "http/handler.hpp"

#include "http/json.hpp"
#include "http/list_query.hpp"
#include "http/metrics.hpp"
#include "http/openapi.hpp"
#include "http/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace pg2s3::http {

namespace asio = boost::asio;
namespace json = boost::json;
using engine::JobStatus;

namespace {

ApiResponse json_response(unsigned status, std::string body) { return {status, "application/json", std::move(body)}; }

// How long a caller turned away at capacity is asked to wait: about what a short export takes.
constexpr unsigned at_capacity_retry_after = 5;

// The engine's refusals map to the client's mistakes; anything else is the service's trouble.
ApiResponse engine_error(const engine::Error& error) {
  if (error.code == engine::errc::unknown_dataset) return error_response(404, "not_found", error.message);
  if (error.code == engine::errc::invalid_request) return error_response(400, "bad_request", error.message);
  if (error.code == engine::errc::unknown_job) return error_response(404, "not_found", error.message);
  if (error.code == engine::errc::conflict) return error_response(409, "conflict", error.message);
  if (error.code == engine::errc::shutting_down) return error_response(503, "shutting_down", error.message);
  if (error.code == engine::errc::at_capacity) {
    auto busy = error_response(503, "at_capacity", error.message);
    busy.retry_after = at_capacity_retry_after;
    return busy;
  }
  return error_response(503, "unavailable", error.message);
}

ApiResponse refused(const Refusal& refusal) { return error_response(refusal.status, refusal.code, refusal.message); }

ApiResponse job_not_found(std::string_view id) { return error_response(404, "not_found", "no job " + std::string(id)); }

// At most this long, and printable ASCII, as the IETF draft on the header suggests keys be.
constexpr std::size_t max_idempotency_key = 255;

std::optional<std::string> refuse_idempotency_key(std::string_view key) {
  if (key.size() > max_idempotency_key) return "the Idempotency-Key header must be at most 255 characters";
  if (std::ranges::any_of(key, [](unsigned char c) { return c < 0x21 || c > 0x7E; }))
    return "the Idempotency-Key header must be printable ASCII without spaces";
  return std::nullopt;
}

asio::awaitable<ApiResponse> start_export(engine::Engine& engine, const StartExport& route, const ApiRequest& api) {
  if (auto problem = refuse_idempotency_key(api.idempotency_key)) co_return error_response(400, "bad_request", *problem);
  auto options = parse_export_options(api.body);
  if (auto* problem = std::get_if<std::string>(&options)) co_return error_response(400, "bad_request", *problem);
  const auto& chosen = std::get<ExportOptions>(options);
  const engine::ExportRequest request{route.dataset, chosen.key, chosen.compression, {}, chosen.format,
                                      chosen.parallelism, chosen.max_file_size, api.idempotency_key, chosen.params};
  auto job = co_await engine.start_export(request);
  if (!job) co_return engine_error(job.error());
  co_return json_response(202, json::serialize(json::object{{"jobId", job->id},
                                                            {"message", "Export started"},
                                                            {"statusUrl", "/exports/" + job->id}}));
}

asio::awaitable<ApiResponse> get_job(engine::Engine& engine, const GetJob& route) {
  auto job = co_await engine.find_job(route.id);
  if (!job) co_return engine_error(job.error());
  if (!*job) co_return job_not_found(route.id);
  co_return json_response(200, job_status_json(**job));
}

json::array file_list(const std::vector<engine::FileDownload>& files) {
  json::array list;
  for (const auto& file : files)
    list.push_back(json::object{{"key", file.key}, {"url", file.url.url}, {"bytes", file.bytes}, {"records", file.records}});
  return list;
}

asio::awaitable<ApiResponse> get_download_url(engine::Engine& engine, const GetDownloadUrl& route) {
  auto job = co_await engine.find_job(route.id);
  if (!job) co_return engine_error(job.error());
  if (!*job) co_return job_not_found(route.id);
  if ((*job)->status != JobStatus::completed)
    co_return error_response(409, "conflict", "job " + route.id + " is " + std::string(engine::to_string((*job)->status)) +
                                                  ": a download URL exists only once it is COMPLETED");
  if ((*job)->local_output)
    co_return error_response(409, "conflict", "job " + route.id + " wrote to a local directory of the process that ran "
                                              "it (pg2s3 export --output), not to S3: it has no download URL");
  auto url = engine.download_url(**job);
  if (!url) co_return engine_error(url.error());
  json::object answer{{"downloadUrl", url->url}, {"expiresAt", engine::iso8601(url->expires_at)}};
  if (!(*job)->manifest_key.empty()) {
    auto files = co_await engine.file_downloads(**job);
    if (!files) co_return engine_error(files.error());
    answer["files"] = file_list(*files);
  }
  co_return json_response(200, json::serialize(answer));
}

asio::awaitable<ApiResponse> cancel_job(engine::Engine& engine, const CancelJob& route) {
  auto cancelling = co_await engine.cancel(route.id);
  if (!cancelling) co_return engine_error(cancelling.error());
  if (*cancelling) {
    co_return json_response(202, json::serialize(json::object{{"jobId", route.id}, {"message", "Export cancelling"}}));
  }
  auto job = co_await engine.find_job(route.id);
  if (!job) co_return engine_error(job.error());
  if (!*job) co_return job_not_found(route.id);
  co_return error_response(409, "conflict",
                           "job " + route.id + " already ended " + std::string(engine::to_string((*job)->status)));
}

asio::awaitable<ApiResponse> list_jobs(engine::Engine& engine, const ListJobs& route) {
  auto page = co_await engine.list_jobs(route.query);
  if (!page) co_return engine_error(page.error());
  std::optional<std::string> next;
  if (page->next) next = encode_cursor(*page->next);
  co_return json_response(200, job_list_json(page->jobs, next));
}

ApiResponse get_dataset(const engine::Engine& engine, const GetDataset& route) {
  const auto* dataset = engine::find_dataset(engine.config(), route.name);
  if (!dataset) return error_response(404, "not_found", "no dataset named '" + route.name.substr(0, 200) + "'");
  return json_response(200, dataset_json(*dataset));
}

asio::awaitable<ApiResponse> health(engine::Engine& engine) {
  auto healthy = co_await engine.check_health();
  if (!healthy) co_return error_response(503, "unavailable", healthy.error().message);
  co_return json_response(200, R"({"status":"ok"})");
}

}  // namespace

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  return json_response(status, error_json(code, message));
}

asio::awaitable<ApiResponse> handle_request(engine::Engine& engine, const ApiRequest& request,
                                            std::string_view api_token, const SiteRules& site) {
  // Every route, /healthz too: a load balancer's probe carries the pod's IP, which a wildcard listen takes,
  // and a rebinding page must not learn from it where the database is and whether it answers.
  if (auto refusal = refuse_host(request.host, site)) co_return refused(*refusal);
  if (auto refusal = refuse_origin(request.origin, site)) co_return refused(*refusal);
  Route chosen = route(request.method, request.target);
  const bool open_route = std::holds_alternative<Health>(chosen);
  if (!api_token.empty() && !open_route && !authorized(request.authorization, api_token))
    co_return error_response(401, "unauthorized", "a valid \"Authorization: Bearer <token>\" header is required");

  if (auto* refusal = std::get_if<Refusal>(&chosen)) co_return refused(*refusal);
  if (auto* start = std::get_if<StartExport>(&chosen)) co_return co_await start_export(engine, *start, request);
  if (auto* get = std::get_if<GetJob>(&chosen)) co_return co_await get_job(engine, *get);
  if (auto* url = std::get_if<GetDownloadUrl>(&chosen)) co_return co_await get_download_url(engine, *url);
  if (auto* cancel = std::get_if<CancelJob>(&chosen)) co_return co_await cancel_job(engine, *cancel);
  if (auto* list = std::get_if<ListJobs>(&chosen)) co_return co_await list_jobs(engine, *list);
  if (std::holds_alternative<ListDatasets>(chosen)) co_return json_response(200, dataset_list_json(engine.config().datasets));
  if (auto* dataset = std::get_if<GetDataset>(&chosen)) co_return get_dataset(engine, *dataset);
  if (std::holds_alternative<OpenApi>(chosen)) co_return json_response(200, std::string(openapi_document()));
  if (std::holds_alternative<Health>(chosen)) co_return co_await health(engine);
  co_return ApiResponse{200, "text/plain; version=0.0.4", prometheus_text(engine.metrics())};
}

}  // namespace pg2s3::http
