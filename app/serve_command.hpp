// `pg2s3 serve`: the engine and the HTTP control API on one event loop, until SIGINT or SIGTERM; SIGHUP
// reloads the datasets.
#pragma once

#include "app/settings.hpp"

#include <string>
#include <vector>

namespace pg2s3::app {

// What a reloaded configuration changes that a running server cannot take: "the database", "the bucket".
std::vector<std::string> changes_needing_restart(const Settings& running, const Settings& fresh);

// The process's exit status. `flags` are read again, with the config file they name, at SIGHUP.
int run_server(const Settings& settings, const Flags& flags);

}  // namespace pg2s3::app
