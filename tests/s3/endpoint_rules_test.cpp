// Region, endpoint and addressing rules, and the headers of the upload options.
#include "s3/endpoint_rules.hpp"
#include "s3/upload_options.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace pg2s3;

TEST_CASE("auto addressing: virtual-hosted on AWS for names without dots, path style otherwise", "[endpoint]") {
  using s3::Addressing;
  CHECK(s3::use_virtual_host(Addressing::automatic, true, "my-bucket"));
  CHECK_FALSE(s3::use_virtual_host(Addressing::automatic, true, "my.dotted.bucket"));  // TLS wildcard: one label
  CHECK_FALSE(s3::use_virtual_host(Addressing::automatic, true, "My_Bucket"));
  CHECK_FALSE(s3::use_virtual_host(Addressing::automatic, false, "my-bucket"));  // custom endpoint
  CHECK(s3::use_virtual_host(Addressing::virtual_hosted, false, "my-bucket"));
  CHECK_FALSE(s3::use_virtual_host(Addressing::path, true, "my-bucket"));
  CHECK_FALSE(s3::virtual_host_compatible("ab"));
  CHECK_FALSE(s3::virtual_host_compatible("-ab"));
  CHECK(s3::parse_addressing("virtual") == Addressing::virtual_hosted);
  CHECK_FALSE(s3::parse_addressing("virtual-hosted"));
}

TEST_CASE("region and endpoint: the SDKs' order", "[endpoint]") {
  std::map<std::string, std::string> variables;
  s3::EnvironmentLookup environment = [&](const char* name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
  CHECK(s3::choose_region(environment, "", std::nullopt) == "us-east-1");
  CHECK(s3::choose_region(environment, "", "eu-west-3") == "eu-west-3");
  CHECK(s3::choose_region(environment, "eu-west-1", "eu-west-3") == "eu-west-1");
  variables["AWS_DEFAULT_REGION"] = "ap-south-1";
  CHECK(s3::choose_region(environment, "eu-west-1", "eu-west-3") == "ap-south-1");
  variables["AWS_REGION"] = "ap-east-1";
  CHECK(s3::choose_region(environment, "", std::nullopt) == "ap-east-1");
  variables["PG2S3_S3_REGION"] = "sa-east-1";
  CHECK(s3::choose_region(environment, "", std::nullopt) == "sa-east-1");

  CHECK(s3::choose_endpoint(environment, "", std::nullopt).empty());
  CHECK(s3::choose_endpoint(environment, "", "http://profile:1") == "http://profile:1");
  CHECK(s3::choose_endpoint(environment, "http://file:1", "http://profile:1") == "http://file:1");
  variables["AWS_ENDPOINT_URL"] = "http://all:1";
  CHECK(s3::choose_endpoint(environment, "http://file:1", std::nullopt) == "http://all:1");
  variables["AWS_ENDPOINT_URL_S3"] = "http://s3:1";
  CHECK(s3::choose_endpoint(environment, "", std::nullopt) == "http://s3:1");
  variables["PG2S3_S3_ENDPOINT"] = "http://ours:1";
  CHECK(s3::choose_endpoint(environment, "", std::nullopt) == "http://ours:1");
  CHECK(s3::aws_s3_endpoint("eu-west-1") == "https://s3.eu-west-1.amazonaws.com");
}

TEST_CASE("a wrong region is read from the header, else from the body", "[endpoint]") {
  CHECK(s3::region_of_redirect(301, "PermanentRedirect", "eu-west-1", "") == "eu-west-1");
  CHECK(s3::region_of_redirect(400, "AuthorizationHeaderMalformed", "",
                               "<Error><Code>AuthorizationHeaderMalformed</Code><Region>ap-south-1</Region></Error>") ==
        "ap-south-1");
  CHECK_FALSE(s3::region_of_redirect(400, "InvalidArgument", "eu-west-1", ""));
  CHECK_FALSE(s3::region_of_redirect(403, "AccessDenied", "eu-west-1", ""));
}

TEST_CASE("upload options become CreateMultipartUpload's headers", "[upload-options]") {
  s3::UploadOptions options;
  auto headers = s3::upload_option_headers(options, "exports/2026/a \"b\".csv");
  REQUIRE(headers.size() == 1);
  CHECK(headers[0] == std::pair<std::string, std::string>{"content-disposition", R"(attachment; filename="a \"b\".csv")"});

  options.sse = "aws:kms";
  options.sse_kms_key_id = "key-1";
  options.sse_bucket_key = true;
  options.storage_class = "STANDARD_IA";
  options.tags = {{"team", "data"}, {"cost center", "a&b"}};
  options.content_disposition = "";
  options.acl = "bucket-owner-full-control";
  CHECK_FALSE(s3::check_upload_options(options));
  CHECK(s3::upload_option_headers(options, "k") ==
        s3::HeaderList{{"x-amz-server-side-encryption", "aws:kms"},
                       {"x-amz-server-side-encryption-aws-kms-key-id", "key-1"},
                       {"x-amz-server-side-encryption-bucket-key-enabled", "true"},
                       {"x-amz-storage-class", "STANDARD_IA"},
                       {"x-amz-tagging", "team=data&cost%20center=a%26b"},
                       {"x-amz-acl", "bucket-owner-full-control"}});

  options.sse = "AES256";
  CHECK(s3::check_upload_options(options) == "sse_kms_key_id needs sse = \"aws:kms\"");
  options.sse = "aws:kms:dsse";
  CHECK(s3::check_upload_options(options));
}
