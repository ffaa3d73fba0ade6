// The control API's routing as a plain function: a method and a target in, the operation to run or a refusal out.
#pragma once

#include "engine/job_query.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace pg2s3::http {

struct StartExport { std::string dataset; };
struct GetJob { std::string id; };
struct GetDownloadUrl { std::string id; };
struct CancelJob { std::string id; };
struct ListJobs { engine::JobQuery query; };
struct ListDatasets {};
struct GetDataset { std::string name; };
struct OpenApi {};
struct Health {};
struct Metrics {};

// An error answer: {"error": code, "message": message} with this status.
struct Refusal {
  unsigned status;
  std::string code;
  std::string message;
};

using Route = std::variant<StartExport, GetJob, GetDownloadUrl, CancelJob, ListJobs, ListDatasets, GetDataset, OpenApi,
                           Health, Metrics, Refusal>;

// POST /exports/{dataset}, GET|DELETE /exports/{jobId}, GET /exports/{jobId}/download-url,
// GET /exports?limit=N&status=S&dataset=D&since=T&until=T&cursor=C, GET /datasets, GET /datasets/{name},
// GET /openapi.json, GET /healthz, GET /metrics.
Route route(std::string_view method, std::string_view target);

// Whether an Authorization header carries "Bearer <token>", compared in constant time.
bool authorized(std::string_view authorization, std::string_view token);

}  // namespace pg2s3::http
