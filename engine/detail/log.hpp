// The engine's log: what went wrong in work no caller waits on, one line each to stderr.
#pragma once

#include <string_view>

namespace pg2s3::engine::detail {

void log(std::string_view line);

}  // namespace pg2s3::engine::detail
