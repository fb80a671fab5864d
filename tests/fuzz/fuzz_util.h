// Helpers shared by the libFuzzer targets in this folder (docs/fuzzing.md).
//
// Every target keeps what it writes inside one private directory per process, made on first
// use and removed at exit, and holds no state from one input to the next except reusable
// scratch (a memfd, the directory itself).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/fs.h"

namespace evokernel::fuzz {

// Stops the fuzzer with a message: a broken harness, not a finding in the code under test.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what.c_str());
  std::abort();
}

// Reports a violated property of the code under test as a crash libFuzzer records.
#define EVK_FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s: %s\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                              \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

// With EVOKERNEL_FUZZ_VERBOSE set, says what became of an input (for checking what a new seed
// reaches: `EVOKERNEL_FUZZ_VERBOSE=1 build/asan/tests/fuzz/<target> FILE`); silent otherwise.
inline void Note(const std::string& what) {
  static const bool verbose = std::getenv("EVOKERNEL_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "fuzz: %s\n", what.c_str());
}

// This process's private scratch directory ($TMPDIR or /tmp), removed when the process exits.
inline const std::filesystem::path& PrivateDir() {
  static const ScopedDir dir = [] {
    auto d = MakeTempDir("evokernel-fuzz-");
    if (!d.ok()) Die("cannot make a temporary directory: " + d.status().ToString());
    return ScopedDir(*d);
  }();
  return dir.path();
}

// An in-memory file (memfd) reachable by path as /proc/self/fd/N, rewritten for each input:
// code that takes a path reads the input without anything being written to disk.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("evokernel-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) Die("memfd_create failed");
  }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the content and rewinds the descriptor.
  void Set(std::string_view data) {
    if (ftruncate(fd_, 0) != 0) Die("ftruncate failed");
    size_t done = 0;
    while (done < data.size()) {
      ssize_t w = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(done));
      if (w <= 0) Die("pwrite failed");
      done += static_cast<size_t>(w);
    }
    if (lseek(fd_, 0, SEEK_SET) != 0) Die("lseek failed");
  }
  int fd() const { return fd_; }
  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// Splits `in` at the first line that is exactly `marker` (the marker line is dropped). Without
// such a line, `before` is empty and `after` is all of `in`.
struct Split {
  std::string_view before, after;
  bool found = false;
};
inline Split SplitAtLine(std::string_view in, std::string_view marker) {
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t nl = in.find('\n', pos);
    size_t end = nl == std::string_view::npos ? in.size() : nl;
    if (in.substr(pos, end - pos) == marker)
      return {in.substr(0, pos), nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1), true};
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return {{}, in, false};
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace evokernel::fuzz
