#include "common/wire.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/subprocess.h"

namespace evokernel {

using Clock = std::chrono::steady_clock;

Status WriteFrame(int fd, Frame& frame) {
  nlohmann::json list = nlohmann::json::array();
  for (const Tensor& t : frame.tensors) {
    list.push_back({{"name", t.name()},
                    {"dtype", std::string(DTypeName(t.dtype()))},
                    {"shape", t.shape()},
                    {"nbytes", t.nbytes()}});
  }
  frame.header["tensors"] = std::move(list);
  std::string line = frame.header.dump() + "\n";
  EVK_RETURN_IF_ERROR(WriteAll(fd, line.data(), line.size()));
  for (const Tensor& t : frame.tensors) EVK_RETURN_IF_ERROR(WriteAll(fd, t.data(), t.nbytes()));
  return Status::Ok();
}

void StopWorker(Subprocess& worker, std::chrono::milliseconds grace) {
  if (worker.finished()) return;
  Frame quit;
  quit.header = {{"cmd", "quit"}};
  if (worker.stdin_fd() >= 0) (void)WriteFrame(worker.stdin_fd(), quit);
  worker.CloseStdin();
  if (!worker.Wait(grace)) worker.Kill();
}

Status FrameReader::Fill(Clock::time_point deadline) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  char tmp[1 << 16];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return TimeoutError("timed out waiting for a reply");
    struct pollfd pfd = {fd_, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (pr < 0 && errno != EINTR) return IoError(std::string("poll: ") + std::strerror(errno));
    if (pr <= 0) continue;
    ssize_t r = read(fd_, tmp, sizeof tmp);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return IoError(std::string("read: ") + std::strerror(errno));
    }
    if (r == 0) return IoError("peer closed the pipe");
    buf_.append(tmp, static_cast<size_t>(r));
    return Status::Ok();
  }
}

Result<Frame> FrameReader::Read(Clock::time_point deadline) {
  size_t nl;
  while ((nl = buf_.find('\n', pos_)) == std::string::npos) {
    if (buf_.size() - pos_ > max_header_) return IoError("frame header too long");
    EVK_RETURN_IF_ERROR(Fill(deadline));
  }
  Frame frame;
  try {
    frame.header = nlohmann::json::parse(buf_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                         buf_.begin() + static_cast<std::ptrdiff_t>(nl));
  } catch (const std::exception& e) {
    std::string line = buf_.substr(pos_, std::min<size_t>(nl - pos_, 200));
    return IoError("malformed frame header (" + std::string(e.what()) + "): " + line);
  }
  pos_ = nl + 1;
  if (!frame.header.is_object()) return IoError("frame header is not a JSON object");
  size_t total = 0;
  if (frame.header.contains("tensors")) {
    const auto& list = frame.header["tensors"];
    if (!list.is_array()) return IoError("frame 'tensors' is not an array");
    // Every field is checked before anything is allocated, and sizes without overflow: the
    // peer's word is a claim (messages name the tensor by position: descriptors are not echoed).
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& d = list[i];
      const std::string which = "frame tensor " + std::to_string(i);
      if (!d.is_object()) return IoError(which + " is not an object");
      const auto name = d.find("name");
      if (name != d.end() && !name->is_string()) return IoError(which + ": 'name' is not a string");
      const auto dt = d.find("dtype");
      auto dtype = dt != d.end() && dt->is_string() ? ParseDType(dt->get_ref<const std::string&>()) : std::nullopt;
      if (!dtype) return IoError(which + " has no supported dtype (float32, float64, int64, int32, bool, uint8)");
      const auto sh = d.find("shape");
      if (sh == d.end() || !sh->is_array()) return IoError(which + " has no shape array");
      // Every dimension and every running product of them stays within the limit (NumElements
      // multiplies left to right, so nothing overflows even when a later dimension is 0).
      const size_t room = max_payload_ - total;  // total <= max_payload_ holds here
      const uint64_t max_elements = max_payload_ / DTypeSize(*dtype);
      std::vector<int64_t> shape;
      uint64_t elements = 1;
      for (const auto& s : *sh) {
        if (!s.is_number_integer() || (!s.is_number_unsigned() && s.get<int64_t>() < 0))
          return IoError(which + ": a dimension is not a non-negative integer");
        const uint64_t dim = s.get<uint64_t>();
        if (dim > max_elements || (dim != 0 && elements > max_elements / dim))
          return IoError("frame payload too large (" + which + ")");
        elements *= dim;
        shape.push_back(static_cast<int64_t>(dim));
      }
      const size_t n = static_cast<size_t>(elements) * DTypeSize(*dtype);
      if (n > room) return IoError("frame payload too large (" + which + ")");
      if (const auto nb = d.find("nbytes"); nb != d.end() && !(nb->is_number_unsigned() && nb->get<uint64_t>() == n))
        return IoError(which + ": size mismatch (nbytes is not the " + std::to_string(n) +
                       " bytes its dtype and shape make)");
      Tensor t(name != d.end() ? name->get<std::string>() : std::string(), *dtype, std::move(shape));
      total += n;
      // Payload: first what is already buffered, then straight from the pipe.
      size_t have = std::min(n, buf_.size() - pos_);
      std::memcpy(t.data(), buf_.data() + pos_, have);
      pos_ += have;
      if (have < n) EVK_RETURN_IF_ERROR(ReadExact(fd_, t.data() + have, n - have, deadline));
      frame.tensors.push_back(std::move(t));
    }
  }
  return frame;
}

}  // namespace evokernel
