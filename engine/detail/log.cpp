#include "engine/detail/log.hpp"

#include <iostream>

namespace pg2s3::engine::detail {

void log(std::string_view line) { std::clog << "pg2s3: " << line << std::endl; }

}  // namespace pg2s3::engine::detail
