#include "http/routes.hpp"

#include "engine/job.hpp"
#include "http/list_query.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

namespace pg2s3::http {
namespace {

Refusal method_not_allowed(std::string_view method, std::string_view path) {
  return {405, "method_not_allowed", std::string(method) + " is not allowed on " + std::string(path)};
}

Refusal bad_job_id(std::string_view id) {
  return {400, "bad_request", "'" + std::string(id.substr(0, 64)) + "' is not a job id (a UUID)"};
}

// Job ids are UUIDs, whose hex digits may come in either case: the engine knows them in lower case.
std::string job_id(std::string_view text) {
  std::string id(text);
  std::ranges::transform(id, id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return id;
}

Route list_jobs(std::string_view query) {
  auto parsed = parse_list_query(query);
  if (auto* problem = std::get_if<QueryProblem>(&parsed)) return Refusal{400, problem->code, problem->message};
  return ListJobs{std::get<engine::JobQuery>(std::move(parsed))};
}

}  // namespace

Route route(std::string_view method, std::string_view target) {
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  const bool get = method == "GET";

  if (path == "/healthz") return get ? Route(Health{}) : method_not_allowed(method, path);
  if (path == "/metrics") return get ? Route(Metrics{}) : method_not_allowed(method, path);
  if (path == "/openapi.json") return get ? Route(OpenApi{}) : method_not_allowed(method, path);
  if (path == "/exports") return get ? list_jobs(query) : method_not_allowed(method, path);
  if (path == "/datasets") return get ? Route(ListDatasets{}) : method_not_allowed(method, path);
  if (path.starts_with("/datasets/")) {
    const std::string_view name = path.substr(10);
    if (name.empty() || name.find('/') != std::string_view::npos)
      return Refusal{404, "not_found", "no route " + std::string(path.substr(0, 200))};
    return get ? Route(GetDataset{std::string(name)}) : method_not_allowed(method, path);
  }
  if (!path.starts_with("/exports/")) return Refusal{404, "not_found", "no route " + std::string(path.substr(0, 200))};

  std::string_view rest = path.substr(9);
  const auto slash = rest.find('/');
  const std::string_view first = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    if (rest.substr(slash) != "/download-url" || first.empty())
      return Refusal{404, "not_found", "no route " + std::string(path.substr(0, 200))};
    if (!get) return method_not_allowed(method, path);
    if (!engine::is_job_id(first)) return bad_job_id(first);
    return GetDownloadUrl{job_id(first)};
  }
  if (first.empty()) return Refusal{404, "not_found", "no route " + std::string(path)};
  if (method == "POST") return StartExport{std::string(first)};
  if (get || method == "DELETE") {
    if (!engine::is_job_id(first)) return bad_job_id(first);
    if (get) return GetJob{job_id(first)};
    return CancelJob{job_id(first)};
  }
  return method_not_allowed(method, path);
}

bool authorized(std::string_view authorization, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (!authorization.starts_with(scheme)) return false;
  const auto offered = authorization.substr(scheme.size());
  // The length may show; the token's bytes may not.
  return offered.size() == token.size() && CRYPTO_memcmp(offered.data(), token.data(), token.size()) == 0;
}

}  // namespace pg2s3::http
