// What evokernel and evokernel-runner agree on beyond the framed protocol (common/wire.h):
// the failure categories a runner reply may carry and the commands it accepts. One definition,
// used by the verifier's client (verifier/kernel_session.cpp) and the runner (src/runner).
//
//   -> {"cmd": "spec", "args": [{name, role, dtype, shape}], "slots": S, "flush_bytes": F,
//       "memory_limit": bytes}
//        <- {"ok": true, "ready": true, "sandbox": {...}, "layout": {...}}  (the kernel is loaded)
//   -> {"cmd": "load", "slot": s} + inputs and params      <- {"ok": true}
//   -> {"cmd": "run", "slot": s, "timeout_ms": t, "same_addresses": bool}
//        <- outputs + {"latency_ns", "inner_ns", "outer_ns", "canary", "modified_inputs",
//                      "late_writes", "threads", "fp_changed"}
//   -> {"cmd": "time", "calls": [{"slot": s, "full": bool, "timed": bool}], "seed", "samples",
//       "timeout_ms"}
//        <- full outputs of the "full" calls, in call order, + {"calls": [{"slot", "latency_ns",
//           "inner_ns", "outer_ns", "samples": [[[index, value, poison]...] per output]}],
//           "round_trip_ns", "overhead_ns", "canary", "modified_inputs", "threads", "fp_changed"}
//   -> {"cmd": "quit"}
// A reply with "ok": false carries "kind" (one of the categories below) and "error".
#pragma once

#include <string_view>

namespace evokernel::runner_protocol {

// Failure categories (EvalResult.failure) a runner reply may name.
inline constexpr std::string_view kLoadError = "load_error";
inline constexpr std::string_view kRuntimeError = "runtime_error";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kMemoryLimit = "memory_limit";
inline constexpr std::string_view kOutOfBounds = "out_of_bounds";
inline constexpr std::string_view kOutputOverflow = "output_overflow";
inline constexpr std::string_view kInputModified = "input_modified";
inline constexpr std::string_view kSandboxViolation = "sandbox_violation";
inline constexpr std::string_view kTooManyThreads = "too_many_threads";
inline constexpr std::string_view kFpEnvironment = "fp_environment";
// The kernel's process reported something impossible (a launch longer than the span the runner
// saw, a state it was not asked for): only kernel code can have written it.
inline constexpr std::string_view kForgedReport = "forged_report";
// The runner's reply itself was malformed, short or surplus (checked by the verifier).
inline constexpr std::string_view kMalformedReply = "malformed_reply";

}  // namespace evokernel::runner_protocol
