// GET /openapi.json against the OpenAPI 3.1 schema, and every answer the API tests of this run got against
// the document, by an independent validator (Ajv, tools/openapi, installed by scripts/install-deps).
// Listed last among the API tests, so that it sees their answers.
#include "tests/http/api_helpers.hpp"

using namespace pg2s3;
using namespace pg2s3::test;

TEST_CASE("GET /openapi.json is valid OpenAPI 3.1, and every answer of the API tests fits it", "[api][openapi]") {
  ServerProcess server;
  auto document = request("GET", server.url("/openapi.json"));
  REQUIRE(document.status == 200);
  std::ifstream source(OPENAPI_DOCUMENT);
  CHECK(document.body == std::string((std::istreambuf_iterator<char>(source)), {}));
  // Answers of every kind, whatever else ran before.
  request("GET", server.url("/datasets"));
  request("GET", server.url("/datasets/users"));
  request("GET", server.url("/datasets/none"));
  request("GET", server.url("/exports?limit=2"));
  request("GET", server.url("/exports?cursor=x"));
  request("GET", server.url("/exports/not-a-uuid"));
  request("GET", server.url("/exports/00000000-0000-4000-8000-000000000000"));
  request("PUT", server.url("/exports"));
  request("GET", server.url("/healthz"));
  request("GET", server.url("/metrics"));
  const auto id = start(server, "users");
  statuses_until_final(server, id);
  request("GET", server.url("/exports/" + id + "/download-url"));
  request("DELETE", server.url("/exports/" + id));

  const std::string document_file = test::scratch_file("openapi.json");
  std::ofstream(document_file, std::ios::binary) << document.body;
  const std::string verdict = test::command_output("node " + std::string(OPENAPI_VALIDATOR) + " " + document_file +
                                                   " " + answers_file() + " 2>&1; echo \"exit $?\"");
  INFO(verdict);
  CHECK_THAT(verdict, Catch::Contains("the document is valid OpenAPI 3.1") && Catch::Contains(" 0 misfits") &&
                          Catch::EndsWith("exit 0\n"));
  CHECK_THAT(verdict, !Catch::Contains(" 0 answers checked"));
}

TEST_CASE("the validator finds an answer that does not fit the document", "[api][openapi]") {
  std::ifstream source(OPENAPI_DOCUMENT);
  const std::string document_file = test::scratch_file("openapi-check.json");
  std::ofstream(document_file, std::ios::binary) << source.rdbuf();
  const std::string answers = test::scratch_file("misfits.jsonl");
  std::ofstream(answers) << R"({"method":"GET","target":"/datasets","status":200,"contentType":"application/json","body":"{\"datasets\":[{\"name\":1}]}"})" "\n"
                         << R"({"method":"GET","target":"/exports","status":418,"contentType":"application/json","body":"{}"})" "\n";
  const std::string verdict = test::command_output("node " + std::string(OPENAPI_VALIDATOR) + " " + document_file + " " +
                                                   answers + " 2>&1; echo \"exit $?\"");
  INFO(verdict);
  CHECK_THAT(verdict, Catch::Contains("GET /datasets -> 200") && Catch::Contains("GET /exports -> 418") &&
                          Catch::Contains("2 misfits"));
  CHECK_THAT(verdict, Catch::EndsWith("exit 1\n"));
}
