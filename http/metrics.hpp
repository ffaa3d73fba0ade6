// The engine's counters and gauges in Prometheus' text exposition format.
#pragma once

#include "engine/engine.hpp"

#include <string>

namespace pg2s3::http {

std::string prometheus_text(const engine::EngineMetrics& metrics);

}  // namespace pg2s3::http
