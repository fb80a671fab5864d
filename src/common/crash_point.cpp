#include "common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace evokernel {
namespace {

struct Target {
  std::string name;  // empty: no crash point armed
  long arrival = 1;  // the arrival at which to die (1-based)
};

const Target& Armed() {
  static const Target t = [] {
    Target t;
    const char* v = std::getenv("EVOKERNEL_CRASH_AT");
    if (!v || !*v) return t;
    std::string s(v);
    if (size_t colon = s.find(':'); colon != std::string::npos) {
      char* end = nullptr;
      long n = std::strtol(s.c_str() + colon + 1, &end, 10);
      t.arrival = (end && *end == '\0' && n >= 1) ? n : 1;
      s.resize(colon);
    }
    t.name = s;
    return t;
  }();
  return t;
}

}  // namespace

void CrashPoint(std::string_view name) {
  const Target& t = Armed();
  if (t.name.empty() || t.name != name) return;
  static std::atomic<long> arrivals{0};
  if (arrivals.fetch_add(1) + 1 == t.arrival) {
    // As abrupt as a power cut for the process: no destructors, no atexit, no flushing.
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);
  }
}

}  // namespace evokernel
