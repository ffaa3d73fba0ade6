#include "s3/error.hpp"

#include <stdexcept>

namespace pg2s3::s3 {
namespace {

class S3Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "s3"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::service_error: return "S3 returned an error";
      case errc::malformed_response: return "S3 response lacks what the operation needs";
      case errc::invalid_config: return "invalid S3 client configuration";
      case errc::upload_not_open: return "multipart upload already completed or aborted";
      case errc::incomplete_parts: return "a part failed or is still in flight";
      case errc::no_credentials: return "no S3 credentials found";
      case errc::credentials_failed: return "S3 credentials could not be obtained";
    }
    return "unknown S3 error";
  }
};

}  // namespace

const boost::system::error_category& s3_category() noexcept {
  static const S3Category category;
  return category;
}

boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), s3_category()}; }

std::string Error::message() const {
  std::string text = operation;
  if (!bucket.empty()) text += " s3://" + bucket + "/" + key;
  text += ": ";
  if (http_status != 0) {
    text += "HTTP " + std::to_string(http_status);
    if (!s3_code.empty()) text += " " + s3_code;
  } else {
    text += code.message();
  }
  if (!detail.empty()) text += ": " + detail;
  if (!request_id.empty()) text += " (request id " + request_id + ")";
  return text;
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.message());
}

}  // namespace pg2s3::s3
