// Just enough XML for S3's responses and request bodies: find elements, decode and escape text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg2s3::s3::detail {

// The name of the document's root element ("Error", "InitiateMultipartUploadResult"), or empty.
std::string_view xml_root_name(std::string_view xml);

// The decoded text of the first <tag>...</tag> (or <tag/>), or nothing when there is none.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);

// The raw inner XML of every <tag>...</tag>, in document order.
std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag);

std::string xml_escape(std::string_view text);

}  // namespace pg2s3::s3::detail
