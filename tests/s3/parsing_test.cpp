// The plain pieces under the S3 client: XML, endpoints, CRC-32C, encodings.
#include "s3/client.hpp"
#include "s3/multipart_upload.hpp"
#include "s3/detail/crypto.hpp"
#include "s3/detail/xml.hpp"

#include <catch2/catch.hpp>

using namespace pg2s3::s3;
using namespace pg2s3::s3::detail;

TEST_CASE("S3 error documents are read by their Code", "[xml]") {
  const std::string rgw = R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooSmall</Code>)"
                          R"(<Message></Message><BucketName>b</BucketName><RequestId>tx1</RequestId></Error>)";
  CHECK(xml_root_name(rgw) == "Error");
  CHECK(xml_text(rgw, "Code") == "EntityTooSmall");
  CHECK(xml_text(rgw, "Message") == "");
  CHECK(xml_text(rgw, "HostId") == std::nullopt);
}

TEST_CASE("XML text is decoded and escaped", "[xml]") {
  CHECK(xml_text("<a><ETag>&quot;abc&quot;</ETag></a>", "ETag") == "\"abc\"");
  CHECK(xml_text("<a><K>x&amp;y&lt;&#65;&#x42;&#233;</K></a>", "K") == "x&y<AB\xC3\xA9");
  CHECK(xml_text("<a><K/></a>", "K") == "");
  CHECK(xml_text("<a><Keys>1</Keys><Key attr=\"x\">2</Key></a>", "Key") == "2");
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
}

TEST_CASE("repeated elements are listed in order", "[xml]") {
  const std::string listing =
      "<ListMultipartUploadsResult><Upload><Key>a</Key><UploadId>1</UploadId></Upload>"
      "<Upload><Key>b</Key><UploadId>2</UploadId></Upload><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
  auto uploads = xml_elements(listing, "Upload");
  REQUIRE(uploads.size() == 2);
  CHECK(xml_text(uploads[1], "Key") == "b");
  CHECK(xml_root_name("<?xml version=\"1.0\"?>\n<InitiateMultipartUploadResult xmlns=\"x\">") ==
        "InitiateMultipartUploadResult");
}

namespace {

// A listing page parsed, or the problem found in it.
template <class Page>
Page page_of(std::variant<Page, std::string> parsed) {
  if (auto* problem = std::get_if<std::string>(&parsed)) FAIL("unexpected problem: " << *problem);
  return std::get<Page>(std::move(parsed));
}

template <class Page>
std::string problem_of(std::variant<Page, std::string> parsed) {
  REQUIRE(std::holds_alternative<std::string>(parsed));
  return std::get<std::string>(std::move(parsed));
}

ObjectListingPage listing_page(std::string_view xml) { return page_of(parse_list_objects_page(xml)); }
std::string listing_problem(std::string_view xml) { return problem_of(parse_list_objects_page(xml)); }

}  // namespace

TEST_CASE("a ListObjectsV2 page gives its objects' keys, sizes and ETags in order", "[xml][list]") {
  const auto page = listing_page(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>run/</Prefix>)"
      R"(<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>)"
      R"(<Contents><Key>run/part-0001.csv</Key><LastModified>2026-01-13T10:00:00.000Z</LastModified>)"
      R"(<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>8388608</Size>)"
      R"(<StorageClass>STANDARD</StorageClass></Contents>)"
      R"(<Contents><Key>run/part-0002.csv</Key><ETag>&quot;e1&quot;</ETag><Size>0</Size></Contents>)"
      R"(<Contents><Key>run/manifest.json</Key><Size>18446744073709551615</Size><Owner><ID>test</ID>)"
      R"(<DisplayName>Key</DisplayName></Owner></Contents></ListBucketResult>)");
  REQUIRE(page.objects.size() == 3);
  CHECK(page.objects[0].key == "run/part-0001.csv");
  CHECK(page.objects[0].size == 8388608);
  CHECK(page.objects[0].etag == "\"9b2cf535f27731c974343645a3985328\"");
  CHECK(page.objects[1].key == "run/part-0002.csv");
  CHECK(page.objects[1].size == 0);
  CHECK(page.objects[2].key == "run/manifest.json");
  CHECK(page.objects[2].size == 18446744073709551615u);
  CHECK(page.objects[2].etag.empty());
  CHECK(page.continuation_token.empty());
}

TEST_CASE("a truncated ListObjectsV2 page gives the token of the next one", "[xml][list]") {
  const auto page = listing_page(
      "<ListBucketResult><Prefix>run/</Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
      "<ContinuationToken>1/abc=</ContinuationToken>"
      "<Contents><Key>run/a</Key><Size>1</Size></Contents><Contents><Key>run/b</Key><Size>2</Size></Contents>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
      "</ListBucketResult>");
  REQUIRE(page.objects.size() == 2);
  CHECK(page.objects[1].key == "run/b");
  CHECK(page.continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST_CASE("listed keys keep spaces and decode XML entities exactly", "[xml][list]") {
  const auto page = listing_page(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>run/a b+c &amp; d&lt;e&gt;&quot;f&apos;.csv</Key><Size>5</Size></Contents>"
      "<Contents><Key>run/  two  spaces </Key><Size>6</Size></Contents>"
      "<Contents><Key>run/&#233;t&#xE9;&#x1F600;</Key><Size>7</Size></Contents></ListBucketResult>");
  REQUIRE(page.objects.size() == 3);
  CHECK(page.objects[0].key == "run/a b+c & d<e>\"f'.csv");
  CHECK(page.objects[1].key == "run/  two  spaces ");
  CHECK(page.objects[2].key == "run/\xC3\xA9t\xC3\xA9\xF0\x9F\x98\x80");
}

TEST_CASE("an empty ListObjectsV2 listing has no objects and no next page", "[xml][list]") {
  for (std::string_view xml :
       {"<ListBucketResult><Name>b</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount></ListBucketResult>"}) {
    const auto page = listing_page(xml);
    CHECK(page.objects.empty());
    CHECK(page.continuation_token.empty());
  }
}

TEST_CASE("a ListObjectsV2 answer it cannot use is a problem, not a short listing", "[xml][list]") {
  CHECK(listing_problem("<Error><Code>NoSuchBucket</Code></Error>") == "the answer is not a ListBucketResult");
  CHECK(listing_problem("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>") ==
        "an object without a Key");
  CHECK(listing_problem("<ListBucketResult><Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>") ==
        "the Size of k is not a number");
  CHECK(listing_problem("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>") ==
        "the Size of k is not a number");
  CHECK(listing_problem("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>") ==
        "a truncated page without a NextContinuationToken");
}

TEST_CASE("a ListMultipartUploads page gives its uploads in order, and the markers of the next one", "[xml][list]") {
  const auto last = page_of(parse_list_uploads_page(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket>)"
      R"(<Prefix>exports/</Prefix><IsTruncated>false</IsTruncated>)"
      R"(<Upload><Key>exports/a &amp; b.csv</Key><UploadId>2~abc</UploadId>)"
      R"(<Initiated>2026-11-26T07:00:00.000Z</Initiated></Upload>)"
      R"(<Upload><Key>exports/c.csv</Key><UploadId>2~def</UploadId></Upload></ListMultipartUploadsResult>)"));
  REQUIRE(last.uploads.size() == 2);
  CHECK(last.uploads[0].key == "exports/a & b.csv");
  CHECK(last.uploads[0].upload_id == "2~abc");
  CHECK(last.uploads[0].initiated == "2026-11-26T07:00:00.000Z");
  CHECK(last.uploads[1].initiated.empty());
  CHECK(last.next_key_marker.empty());
  CHECK(last.next_upload_id_marker.empty());

  const auto truncated = page_of(parse_list_uploads_page(
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>exports/c.csv</NextKeyMarker>"
      "<NextUploadIdMarker>2~def</NextUploadIdMarker><Upload><Key>exports/c.csv</Key><UploadId>2~def</UploadId>"
      "</Upload></ListMultipartUploadsResult>"));
  CHECK(truncated.next_key_marker == "exports/c.csv");
  CHECK(truncated.next_upload_id_marker == "2~def");
}

TEST_CASE("a ListMultipartUploads answer it cannot use is a problem, not a short listing", "[xml][list]") {
  CHECK(problem_of(parse_list_uploads_page("<Error><Code>AccessDenied</Code></Error>")) ==
        "the answer is not a ListMultipartUploadsResult");
  CHECK(problem_of(parse_list_uploads_page(
            "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>")) ==
        "an upload without a Key or an UploadId");
  CHECK(problem_of(parse_list_uploads_page(
            "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>")) ==
        "a truncated page without a NextKeyMarker or NextUploadIdMarker");
}

TEST_CASE("endpoints are http(s)://host[:port]", "[endpoint]") {
  auto plain = parse_endpoint("http://127.0.0.1:57480");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "57480");
  CHECK(plain->authority() == "127.0.0.1:57480");

  auto aws = parse_endpoint("https://s3.eu-west-1.amazonaws.com/");
  REQUIRE(aws);
  CHECK(aws->port == "443");
  CHECK(aws->authority() == "s3.eu-west-1.amazonaws.com");
  CHECK(aws->origin() == "https://s3.eu-west-1.amazonaws.com");

  auto v6 = parse_endpoint("http://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->authority() == "[::1]:9000");

  for (auto bad : {"", "ftp://h", "http://", "http://h:", "http://h:0", "http://h:70000", "http://h/path",
                   "http://user@h", "127.0.0.1:9000", "http://[::1"})
    CHECK_FALSE(parse_endpoint(bad));
}

TEST_CASE("CRC-32C and its x-amz-checksum-crc32c form", "[crc32c]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  // Incremental computation gives the same value as one pass.
  const std::string text = "The quick brown fox jumps over the lazy dog, several times over to pass 8-byte words.";
  CHECK(crc32c(text.substr(13), crc32c(text.substr(0, 13))) == crc32c(text));
  CHECK(crc32c_base64("123456789") == "4waSgw==");
}

TEST_CASE("hex and base64", "[encoding]") {
  const unsigned char bytes[] = {0x00, 0xff, 0x10};
  CHECK(hex(bytes) == "00ff10");
  CHECK(base64(std::span(bytes, 1)) == "AA==");
  CHECK(base64(bytes) == "AP8Q");
}

TEST_CASE("the ETag of a completed multipart object is the MD5 of its parts' MD5s", "[multipart]") {
  // Two parts whose ETags are the MD5s of "a" and "b"; S3 names the object md5(md5("a") || md5("b"))-2.
  const CompletedPart parts[] = {{1, "\"0cc175b9c0f1b6a831c399e269772661\"", ""},
                                     {2, "\"92eb5ffee6ae2fec3ad71c777531578f\"", ""}};
  CHECK(multipart_etag(parts) == "\"" + std::string("96e024ba2074fe77e8e965ba43a704be") + "-2\"");
  const CompletedPart not_md5[] = {{1, "\"kms-encrypted-etag\"", ""}};
  CHECK_FALSE(multipart_etag(not_md5));
}
