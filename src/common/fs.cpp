#include "common/fs.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace evokernel {
namespace fs = std::filesystem;

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> ReadUserFile(const fs::path& path, size_t max_bytes, std::string_view what) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec) return NotFound("cannot read " + std::string(what) + " " + path.string() + ": " + ec.message());
  if (!fs::is_regular_file(st))
    return Status(StatusCode::kInvalidArgument,
                  std::string(what) + " " + path.string() + " is not a regular file (a device, FIFO or directory)");
  const auto size = fs::file_size(path, ec);
  if (ec) return NotFound("cannot read " + std::string(what) + " " + path.string() + ": " + ec.message());
  if (size > max_bytes)
    return Status(StatusCode::kInvalidArgument, std::string(what) + " " + path.string() + " has " +
                                                    std::to_string(size) + " bytes; at most " +
                                                    std::to_string(max_bytes) + " are accepted");
  auto text = ReadFile(path);
  if (text.ok() && text->size() > max_bytes)  // grew while being read
    return Status(StatusCode::kInvalidArgument, std::string(what) + " " + path.string() + " is larger than " +
                                                    std::to_string(max_bytes) + " bytes");
  return text;
}

std::string ReadFileTail(const fs::path& path, size_t max_bytes) {
  auto text = ReadFile(path);
  if (!text.ok()) return "";
  if (text->size() <= max_bytes) return *text;
  return "..." + text->substr(text->size() - max_bytes);
}

Status WriteFileAtomic(const fs::path& path, std::string_view content, bool durable) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(getpid()) + "." + std::to_string(std::random_device{}());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    fs::remove(tmp, ec);
    return IoError(what + " " + tmp.string() + ": " + std::strerror(err));
  };
  for (size_t off = 0; off < content.size();) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write failed:");
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) return fail("fsync failed:");
  if (::close(fd) != 0) {
    fd = -1;
    fs::remove(tmp, ec);
    return IoError("write failed: " + tmp.string() + ": " + std::strerror(errno));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return IoError("cannot rename into " + path.string() + ": " + ec.message());
  }
  if (durable) {
    fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return Status::Ok();
}

Result<fs::path> MakeTempDir(std::string_view prefix, const fs::path& parent) {
  fs::path base = parent;
  if (base.empty()) {
    const char* t = std::getenv("TMPDIR");
    base = (t && *t) ? t : "/tmp";
  }
  std::string tmpl = (base / (std::string(prefix) + "XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr)
    return IoError("cannot create a temporary directory in " + base.string() + ": " +
                   std::strerror(errno));
  return fs::path(tmpl);
}

fs::path TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return (t && *t) ? fs::path(t) : fs::path("/tmp");
}

namespace {
std::string HostTag() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || !*host) return "host";
  std::string h(host);
  for (char& c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';  // no '.' or '-': they delimit
  return h;
}
}  // namespace

Result<fs::path> MakeOwnedTempDir(std::string_view prefix, const fs::path& parent) {
  return MakeTempDir(std::string(prefix) + HostTag() + "." + std::to_string(getpid()) + "-", parent);
}

int SweepDeadTempDirs(const fs::path& dir, const std::vector<std::string>& prefixes) {
  const std::string host = HostTag();
  int removed = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    for (const auto& prefix : prefixes) {
      // "<prefix><host>.<pid>-XXXXXX"
      if (name.rfind(prefix + host + ".", 0) != 0) continue;
      const std::string rest = name.substr(prefix.size() + host.size() + 1);
      const size_t dash = rest.find('-');
      if (dash == std::string::npos || dash == 0 || dash + 7 != rest.size()) continue;
      pid_t pid = 0;
      bool digits = true;
      for (size_t i = 0; i < dash; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(rest[i]))) digits = false;
        else pid = pid * 10 + (rest[i] - '0');
      }
      if (!digits || pid <= 0) continue;
      if (kill(pid, 0) == 0 || errno == EPERM) continue;  // alive (or someone else's, alive)
      std::error_code rm;
      if (it->is_directory(rm) && !it->is_symlink(rm) && fs::remove_all(it->path(), rm) > 0 && !rm) ++removed;
      break;
    }
  }
  return removed;
}

int SweepLeftovers(const fs::path& build_cache) {
  return SweepDeadTempDirs(TempRoot(), {kOracleDirPrefix, kRunnerDirPrefix}) +
         SweepDeadTempDirs(build_cache / "tmp", {kBuildDirPrefix});
}

ScopedDir::~ScopedDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

fs::path ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

std::string CpuModelName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(std::min(line.size(), line.find(':') + 2));
  return "unknown";
}

fs::path HelperExecutable(std::string_view name, const char* env_var) {
  if (const char* r = env_var ? std::getenv(env_var) : nullptr; r && *r) return r;
  fs::path here = ExecutableDir() / name;
  if (access(here.c_str(), X_OK) == 0) return here;
#ifdef EVOKERNEL_BINARY_DIR
  fs::path built = fs::path(EVOKERNEL_BINARY_DIR) / "src" / name;
  if (access(built.c_str(), X_OK) == 0) return built;
#endif
  return here;
}

fs::path DataDir() {
  if (const char* d = std::getenv("EVOKERNEL_DATA_DIR"); d && *d) return d;
#ifdef EVOKERNEL_SOURCE_DIR
  if (fs::exists(fs::path(EVOKERNEL_SOURCE_DIR) / "python")) return EVOKERNEL_SOURCE_DIR;
#endif
  return ExecutableDir().parent_path() / "share" / "evokernel";
}

fs::path CacheDir() {
  if (const char* d = std::getenv("EVOKERNEL_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "evokernel";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "evokernel";
}

}  // namespace evokernel
