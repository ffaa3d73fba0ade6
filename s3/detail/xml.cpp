#include "s3/detail/xml.hpp"

#include <charconv>
#include <cstdint>

namespace pg2s3::s3::detail {
namespace {

struct ElementSpan {
  std::size_t inner_begin = std::string_view::npos;
  std::size_t inner_end = 0;
  std::size_t after = 0;  // first character past the closing tag
};

bool ends_name(char c) { return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The next <tag ...>inner</tag> or <tag/> at or after `from`.
std::optional<ElementSpan> find_element(std::string_view xml, std::string_view tag, std::size_t from) {
  std::string open = "<";
  open += tag;
  std::string close = "</";
  close.append(tag).push_back('>');
  for (auto start = xml.find(open, from); start != std::string_view::npos; start = xml.find(open, start + 1)) {
    const auto name_end = start + open.size();
    if (name_end >= xml.size() || !ends_name(xml[name_end])) continue;
    const auto tag_end = xml.find('>', name_end);
    if (tag_end == std::string_view::npos) return std::nullopt;
    if (xml[tag_end - 1] == '/') return ElementSpan{tag_end + 1, tag_end + 1, tag_end + 1};
    const auto close_at = xml.find(close, tag_end + 1);
    if (close_at == std::string_view::npos) return std::nullopt;
    return ElementSpan{tag_end + 1, close_at, close_at + close.size()};
  }
  return std::nullopt;
}

void append_code_point(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Appends the character an entity (without '&' and ';') stands for; false if it is not one.
bool decode_entity(std::string_view entity, std::string& out) {
  if (entity == "amp") out.push_back('&');
  else if (entity == "lt") out.push_back('<');
  else if (entity == "gt") out.push_back('>');
  else if (entity == "quot") out.push_back('"');
  else if (entity == "apos") out.push_back('\'');
  else if (entity.size() > 1 && entity[0] == '#') {
    const bool hex = entity[1] == 'x' || entity[1] == 'X';
    const auto digits = entity.substr(hex ? 2 : 1);
    unsigned cp = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (ec != std::errc{} || end != digits.data() + digits.size() || cp > 0x10FFFF) return false;
    append_code_point(out, cp);
  } else {
    return false;
  }
  return true;
}

std::string decode_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const auto semicolon = text.find(';', i);
      if (semicolon != std::string_view::npos && decode_entity(text.substr(i + 1, semicolon - i - 1), out)) {
        i = semicolon;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t size = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return size;
}

}  // namespace

std::string_view xml_root_name(std::string_view xml) {
  std::size_t at = 0;
  while ((at = xml.find('<', at)) != std::string_view::npos) {
    if (at + 1 < xml.size() && (xml[at + 1] == '?' || xml[at + 1] == '!')) {
      ++at;
      continue;
    }
    auto end = at + 1;
    while (end < xml.size() && !ends_name(xml[end])) ++end;
    return xml.substr(at + 1, end - at - 1);
  }
  return {};
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  auto element = find_element(xml, tag, 0);
  if (!element) return std::nullopt;
  return decode_text(xml.substr(element->inner_begin, element->inner_end - element->inner_begin));
}

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> elements;
  std::size_t from = 0;
  while (auto element = find_element(xml, tag, from)) {
    elements.push_back(xml.substr(element->inner_begin, element->inner_end - element->inner_begin));
    from = element->after;
  }
  return elements;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::variant<ObjectListingPage, std::string> parse_list_objects_page(std::string_view xml) {
  if (xml_root_name(xml) != "ListBucketResult") return "the answer is not a ListBucketResult";
  ObjectListingPage page;
  for (auto contents : xml_elements(xml, "Contents")) {
    auto key = xml_text(contents, "Key");
    if (!key || key->empty()) return "an object without a Key";
    const auto size = parse_size(xml_text(contents, "Size").value_or(""));
    if (!size) return "the Size of " + *key + " is not a number";
    page.objects.push_back({std::move(*key), *size, xml_text(contents, "ETag").value_or("")});
  }
  if (xml_text(xml, "IsTruncated").value_or("false") != "true") return page;
  page.continuation_token = xml_text(xml, "NextContinuationToken").value_or("");
  if (page.continuation_token.empty()) return "a truncated page without a NextContinuationToken";
  return page;
}

std::variant<UploadListingPage, std::string> parse_list_uploads_page(std::string_view xml) {
  if (xml_root_name(xml) != "ListMultipartUploadsResult") return "the answer is not a ListMultipartUploadsResult";
  UploadListingPage page;
  for (auto upload : xml_elements(xml, "Upload")) {
    auto key = xml_text(upload, "Key").value_or("");
    auto upload_id = xml_text(upload, "UploadId").value_or("");
    if (key.empty() || upload_id.empty()) return "an upload without a Key or an UploadId";
    page.uploads.push_back({std::move(key), std::move(upload_id), xml_text(upload, "Initiated").value_or("")});
  }
  if (xml_text(xml, "IsTruncated").value_or("false") != "true") return page;
  page.next_key_marker = xml_text(xml, "NextKeyMarker").value_or("");
  page.next_upload_id_marker = xml_text(xml, "NextUploadIdMarker").value_or("");
  if (page.next_key_marker.empty() && page.next_upload_id_marker.empty())
    return "a truncated page without a NextKeyMarker or NextUploadIdMarker";
  return page;
}

}  // namespace pg2s3::s3::detail
