#include "engine/error.hpp"

#include <stdexcept>

namespace pg2s3::engine {
namespace {

class EngineCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "engine"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unknown_dataset: return "unknown dataset";
      case errc::invalid_request: return "invalid request";
      case errc::unknown_job: return "unknown job";
      case errc::shutting_down: return "shutting down";
      case errc::output_too_large: return "output too large for one object";
      case errc::over_budget: return "part larger than the buffer budget";
      case errc::conflict: return "conflicts with an earlier request";
      case errc::lease_lost: return "the job's lease was lost";
      case errc::at_capacity: return "too many jobs pending";
      case errc::internal_error: return "internal error";
    }
    return "unknown engine error";
  }
};

}  // namespace

const boost::system::error_category& engine_category() noexcept {
  static const EngineCategory category;
  return category;
}

boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), engine_category()}; }

Error internal_error(std::exception_ptr thrown) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  return {errc::internal_error, "internal error: " + what};
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.message);
}

}  // namespace pg2s3::engine
