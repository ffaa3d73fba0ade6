// libFuzzer target: any bytes as an S3 response body, read the way the client reads errors, new uploads and
// upload listings; and any text escaped into an element must decode back to itself.
#include "s3/detail/xml.hpp"

#include <cstdlib>
#include <string>

using namespace pg2s3::s3::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)xml_root_name(body);
  for (const char* tag : {"Code", "Message", "RequestId", "UploadId", "IsTruncated", "NextKeyMarker", "ETag"})
    (void)xml_text(body, tag);
  for (auto upload : xml_elements(body, "Upload")) {
    if (upload.data() < body.data() || upload.data() + upload.size() > body.data() + body.size()) std::abort();
    (void)xml_text(upload, "Key");
    (void)xml_text(upload, "UploadId");
  }
  const std::string element = "<Key>" + xml_escape(body) + "</Key>";
  if (xml_text(element, "Key") != std::string(body)) std::abort();
  return 0;
}
