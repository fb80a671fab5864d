#include "common/status.h"

namespace evokernel {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kInvalidTask: return "invalid_task";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kCompileError: return "compile_error";
    case StatusCode::kRuntimeError: return "runtime_error";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kWrongAnswer: return "wrong_answer";
    case StatusCode::kProviderError: return "provider_error";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kInternal: return "internal";
    case StatusCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace evokernel
