// Filesystem, hashing and location helpers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace evokernel {

Result<std::string> ReadFile(const std::filesystem::path& path);
// The last `max_bytes` of a file ("..." + tail when cut); empty when unreadable.
std::string ReadFileTail(const std::filesystem::path& path, size_t max_bytes);

// Reads a file a user named (a kernel source): it must be a regular file (not a device, FIFO
// or directory) of at most `max_bytes`; errors (kInvalidArgument) say which rule it broke.
Result<std::string> ReadUserFile(const std::filesystem::path& path, size_t max_bytes, std::string_view what);
// Writes via a temporary file in the same directory and rename(2), so readers never see a
// partial file.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content);

// Creates a fresh private (0700) directory under `parent` (default: $TMPDIR or /tmp).
Result<std::filesystem::path> MakeTempDir(std::string_view prefix,
                                          const std::filesystem::path& parent = {});

// Removes a directory tree when it goes out of scope.
class ScopedDir {
 public:
  explicit ScopedDir(std::filesystem::path p) : path_(std::move(p)) {}
  ~ScopedDir();
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string Sha256Hex(std::string_view data);

// Directory of the running executable (/proc/self/exe).
std::filesystem::path ExecutableDir();
// The CPU's model name from /proc/cpuinfo, "unknown" when absent.
std::string CpuModelName();
// A helper program installed beside this one (evokernel-runner, evokernel-peaks): $env_var
// when set, else <exe dir>/name, else the build tree's src/name.
std::filesystem::path HelperExecutable(std::string_view name, const char* env_var);
// Where shipped data lives (python/, tasks/, docs/): $EVOKERNEL_DATA_DIR, else the source tree
// this binary was built from, else <exe>/../share/evokernel.
std::filesystem::path DataDir();
// Build cache root: $EVOKERNEL_CACHE_DIR, else $XDG_CACHE_HOME/evokernel, else
// ~/.cache/evokernel.
std::filesystem::path CacheDir();

}  // namespace evokernel
