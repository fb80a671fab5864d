// Status and Result<T>: evokernel's error currency.
//
// Failure is data: functions that can fail return a Status or a Result<T> instead of throwing.
// Exceptions are used only at boundaries (CLI parsing, third-party parsers) and are converted
// into a Status there. A Status message says what was wrong, where (file:line, task id, field)
// and, where possible, what to do about it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace evokernel {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad option, bad config value
  kInvalidTask,      // task file or suite manifest is malformed
  kNotFound,         // file, task or symbol does not exist
  kCompileError,     // candidate source does not build
  kRuntimeError,     // candidate crashed or misbehaved at run time
  kTimeout,          // a wall-clock limit was exceeded
  kWrongAnswer,      // candidate output does not match the reference
  kProviderError,    // LLM endpoint failure
  kIoError,          // filesystem or pipe failure
  kInternal,         // evokernel itself is broken (a bug)
  kUnavailable,      // a required tool or runtime is missing (python3-torch, g++, ...)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "<code name>: <message>", for logs and error output.
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status InvalidTask(std::string m) { return {StatusCode::kInvalidTask, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status TimeoutError(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }

// Holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace evokernel

#define EVK_CONCAT_INNER(a, b) a##b
#define EVK_CONCAT(a, b) EVK_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define EVK_RETURN_IF_ERROR(expr)            \
  do {                                       \
    ::evokernel::Status evk_st_ = (expr);    \
    if (!evk_st_.ok()) return evk_st_;       \
  } while (0)

// `EVK_ASSIGN_OR_RETURN(auto x, MakeX());` unwraps a Result or returns its Status.
#define EVK_ASSIGN_OR_RETURN(lhs, expr) \
  EVK_ASSIGN_OR_RETURN_IMPL(EVK_CONCAT(evk_res_, __LINE__), lhs, expr)
#define EVK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
