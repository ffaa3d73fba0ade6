// Errors of S3 operations as values: which operation on which object, and what the server said.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <type_traits>

namespace pg2s3::s3 {

// Failures this client reports besides the transport's own error codes.
enum class errc {
  service_error = 1,   // S3 answered with an <Error> or a status other than 2xx: see Error::s3_code
  malformed_response,  // the answer lacked what the operation needs (an upload id, an ETag)
  invalid_config,      // the endpoint or CA file cannot be used
  upload_not_open,     // a MultipartUpload used after complete() or abort()
  incomplete_parts,    // complete() while a part failed or is still in flight
  no_credentials,      // no credential source is set up (the error says where it looked)
  credentials_failed,  // a credential source is set up but did not yield credentials
};

const boost::system::error_category& s3_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

struct Error {
  boost::system::error_code code;  // a transport error, or one of errc
  std::string operation;           // "UploadPart"
  std::string bucket;
  std::string key;
  unsigned http_status = 0;  // 0 when no response arrived
  std::string s3_code;       // "SlowDown", "EntityTooSmall"; RGW's <Message> is empty, so this is what to read
  std::string request_id;
  std::string detail;  // the server's <Message>, or what the transport knows (a certificate problem)
  std::string bucket_region;  // when S3 answered that the bucket lives in another region: that region

  // "UploadPart s3://bucket/key: HTTP 400 EntityTooSmall (request id tx00...)"
  std::string message() const;
};

template <class T>
using Result = boost::system::result<T, Error>;

// Lets Result<T>::value() throw when it holds an Error.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& location);

}  // namespace pg2s3::s3

template <>
struct boost::system::is_error_code_enum<pg2s3::s3::errc> : std::true_type {};
