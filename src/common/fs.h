// Filesystem, hashing and location helpers.
#pragma once

#include <filesystem>
#include <vector>
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
// partial file. With `durable`, the data is fsync'ed before the rename and the directory after
// it, so the new content also survives power loss (run records; not the build cache).
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content, bool durable = false);

// Creates a fresh private (0700) directory under `parent` (default: $TMPDIR or /tmp).
Result<std::filesystem::path> MakeTempDir(std::string_view prefix,
                                          const std::filesystem::path& parent = {});

// Removes a directory tree when it goes out of scope.
// A temporary directory owned by this process: its name carries the host and the pid
// ("<prefix><host>.<pid>-XXXXXX"), so that SweepDeadTempDirs can remove it if the process dies
// without cleaning up (SIGKILL, a crash, power loss).
Result<std::filesystem::path> MakeOwnedTempDir(std::string_view prefix, const std::filesystem::path& parent = {});

// Removes the directories in `dir` made by MakeOwnedTempDir with one of `prefixes` on this host
// whose process is gone. Directories of live processes and of other hosts (a shared cache) are
// left alone. Returns how many were removed; never fails (what cannot be removed stays).
int SweepDeadTempDirs(const std::filesystem::path& dir, const std::vector<std::string>& prefixes);

// The default temporary directory ($TMPDIR, else /tmp).
std::filesystem::path TempRoot();

// Prefixes of evokernel's own process-owned temporary directories.
inline constexpr const char* kOracleDirPrefix = "evokernel-oracle-";   // in TempRoot()
inline constexpr const char* kRunnerDirPrefix = "evokernel-run-";      // in TempRoot()
inline constexpr const char* kBuildDirPrefix = "build-";               // in <build cache>/tmp

// Sweeps what dead evokernel processes of this host left behind: oracle and runner directories
// in TempRoot() and unfinished builds in `build_cache`/tmp. Returns how many were removed.
int SweepLeftovers(const std::filesystem::path& build_cache);

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
