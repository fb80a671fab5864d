#include "runner/broker.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace evokernel::runner {
namespace {

// Reads a NUL-terminated string of at most PATH_MAX bytes from the host's memory.
bool ReadRemoteString(pid_t pid, uint64_t addr, std::string& out) {
  out.clear();
  char buf[256];
  while (out.size() < PATH_MAX) {
    iovec local{buf, sizeof buf};
    iovec remote{reinterpret_cast<void*>(addr + out.size()), sizeof buf};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) {
      // The string may end close to an unmapped page: read byte by byte.
      char c;
      iovec l1{&c, 1}, r1{reinterpret_cast<void*>(addr + out.size()), 1};
      if (process_vm_readv(pid, &l1, 1, &r1, 1, 0) != 1) return false;
      if (c == 0) return true;
      out.push_back(c);
      continue;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == 0) return true;
      out.push_back(buf[i]);
    }
  }
  return false;
}

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::string OpenBroker::Resolve(pid_t pid, int dirfd, const std::string& path) {
  std::string full = path;
  if (path.empty() || path[0] != '/') {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::string base = dirfd == AT_FDCWD ? ReadLink(proc + "/cwd") : ReadLink(proc + "/fd/" + std::to_string(dirfd));
    if (base.empty()) return "";
    full = base + "/" + path;
  }
  char real[PATH_MAX];
  if (!realpath(full.c_str(), real)) return "";
  return real;
}

OpenBroker::OpenBroker(int listener_fd, pid_t host, std::vector<std::string> allowed)
    : fd_(listener_fd), host_(host), allowed_(std::move(allowed)) {
  thread_ = std::thread([this] { Loop(); });
}

OpenBroker::~OpenBroker() {
  if (fd_ >= 0) close(fd_);  // wakes the loop's poll with an error
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> OpenBroker::Refused() const {
  std::lock_guard<std::mutex> l(mu_);
  return refused_;
}

bool OpenBroker::Allowed(const std::string& real) const {
  for (const auto& a : allowed_) {
    if (a.empty()) continue;
    if (a.back() == '/' ? real.rfind(a, 0) == 0 : real == a) return true;
  }
  return false;
}

void OpenBroker::Loop() {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return;
  std::vector<char> req_buf(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  std::vector<char> resp_buf(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  while (true) {
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL))) return;  // the host is gone
    if (r == 0) continue;
    std::memset(req_buf.data(), 0, req_buf.size());
    auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
    if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      return;
    }
    std::memset(resp_buf.data(), 0, resp_buf.size());
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
    Handle(req, resp);
  }
}

void OpenBroker::Handle(seccomp_notif* req, seccomp_notif_resp* resp) {
  resp->id = req->id;
  auto refuse = [&](const std::string& what) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (refused_.size() < 64) refused_.push_back(what);
    }
    resp->error = -EACCES;
    resp->val = 0;
    resp->flags = 0;
    ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, resp);
  };
  const long nr = req->data.nr;
  if (nr == SYS_clone) {
    if (!calls_.load()) {
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
      threads_refused_.fetch_add(1);
      resp->error = -EAGAIN;
    }
    ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, resp);
    return;
  }
  uint64_t path_arg = 0, flags = 0;
  int dirfd = AT_FDCWD;
  // Existence checks (a driver looking for a file it will open): answered from the allowlist,
  // so they tell nothing about files outside it.
  if (nr == SYS_access || nr == SYS_faccessat || nr == SYS_faccessat2) {
    const bool at = nr != SYS_access;
    if (at) dirfd = static_cast<int>(req->data.args[0]);
    const uint64_t mode = req->data.args[at ? 2 : 1];
    std::string path;
    bool ok = ReadRemoteString(static_cast<pid_t>(req->pid), req->data.args[at ? 1 : 0], path) &&
              ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) == 0 && (mode & (W_OK | X_OK)) == 0;
    if (ok) {
      std::string real = Resolve(static_cast<pid_t>(req->pid), dirfd, path);
      ok = !real.empty() && Allowed(real) && ::access(real.c_str(), R_OK) == 0;
    }
    resp->error = ok ? 0 : -ENOENT;
    resp->val = 0;
    resp->flags = 0;
    ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, resp);
    return;
  }
  if (nr == SYS_open) {
    path_arg = req->data.args[0];
    flags = req->data.args[1];
  } else if (nr == SYS_openat) {
    dirfd = static_cast<int>(req->data.args[0]);
    path_arg = req->data.args[1];
    flags = req->data.args[2];
  } else {
    return refuse("(system call " + std::to_string(nr) + ")");
  }
  std::string path;
  if (!ReadRemoteString(static_cast<pid_t>(req->pid), path_arg, path)) return refuse("(unreadable path)");
  // The notification must still be pending: the path was read from the live request.
  if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) return;
  if (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) return refuse(path + " (for writing)");
  const std::string real = Resolve(static_cast<pid_t>(req->pid), dirfd, path);
  if (real.empty() || !Allowed(real)) return refuse(path);
  int own_flags = O_RDONLY | O_CLOEXEC | static_cast<int>(flags & (O_DIRECTORY | O_NOFOLLOW));
  int fd = open(real.c_str(), own_flags);
  if (fd < 0) {
    resp->error = -errno;
    ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, resp);
    return;
  }
  seccomp_notif_addfd addfd{};
  addfd.id = req->id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<uint32_t>(fd);
  addfd.newfd = 0;
  addfd.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
  // With FLAG_SEND the new descriptor is the open's return value: no separate reply.
  if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) >= 0) served_.fetch_add(1);
  close(fd);
}

}  // namespace evokernel::runner
