// The OpenAPI 3.1 description of the control API, served at GET /openapi.json.
#pragma once

#include <string_view>

namespace pg2s3::http {

// http/openapi.json, compiled in: edited as a JSON file beside the code it describes, checked by the tests
// against the OpenAPI 3.1 schema and against every answer the API tests get.
std::string_view openapi_document();

}  // namespace pg2s3::http
