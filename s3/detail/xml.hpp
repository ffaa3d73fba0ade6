// Just enough XML for S3's answers and request bodies: elements, text, escaping, pages of the listings.
#pragma once

#include "s3/client.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pg2s3::s3::detail {

// The name of the document's root element ("Error", "InitiateMultipartUploadResult"), or empty.
std::string_view xml_root_name(std::string_view xml);

// The decoded text of the first <tag>...</tag> (or <tag/>), or nothing when there is none.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);

// The raw inner XML of every <tag>...</tag>, in document order.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);

std::string xml_escape(std::string_view text);

// One page of a ListObjectsV2 answer.
struct ObjectListingPage {
  std::vector<ListedObject> objects;
  std::string continuation_token;  // where the next page starts; empty on the last page
};

// The page, or what makes the answer unusable: not a ListBucketResult, an object without a key or with a
// size that is not a number, or a truncated page without a NextContinuationToken.
std::variant<ObjectListingPage, std::string> parse_list_objects_page(std::string_view xml);

// One page of a ListMultipartUploads answer.
struct UploadListingPage {
  std::vector<MultipartUploadListing> uploads;
  std::string next_key_marker;  // where the next page starts; both empty on the last page
  std::string next_upload_id_marker;
};

// The page, or what makes the answer unusable: not a ListMultipartUploadsResult, an upload without a key
// or an upload id, or a truncated page without a marker.
std::variant<UploadListingPage, std::string> parse_list_uploads_page(std::string_view xml);

}  // namespace pg2s3::s3::detail
