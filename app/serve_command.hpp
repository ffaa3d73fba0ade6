// `pg2s3 serve`: the engine and the HTTP control API on one event loop, until SIGINT or SIGTERM.
#pragma once

#include "app/settings.hpp"

namespace pg2s3::app {

// The process's exit status.
int run_server(const Settings& settings);

}  // namespace pg2s3::app
