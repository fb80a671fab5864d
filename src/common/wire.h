// The framed protocol spoken over pipes by evokernel, the PyTorch oracle
// (python/evokernel_oracle.py) and the kernel runner (src/runner).
//
// A frame is one line of JSON (the header, '\n'-terminated) followed by the raw bytes of the
// tensors it lists, in order:
//   {"cmd": "...", ..., "tensors": [{"name": "x", "dtype": "float32", "shape": [2, 3],
//                                    "nbytes": 24}, ...]}\n<24 bytes>...
// Replies carry "ok": true|false and, on failure, "error" (a message) and "kind" (a category).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/subprocess.h"
#include "common/tensor.h"

namespace evokernel {

struct Frame {
  nlohmann::json header = nlohmann::json::object();
  std::vector<Tensor> tensors;
};

// Serialises header + tensors (header["tensors"] is filled in from `tensors`).
Status WriteFrame(int fd, Frame& frame);

// Asks a worker that speaks this protocol to quit ({"cmd": "quit"}), closes its stdin and
// kills its process group if it has not exited within `grace`.
void StopWorker(Subprocess& worker, std::chrono::milliseconds grace);

// Buffered reader of frames from one file descriptor. Not thread-safe.
class FrameReader {
 public:
  explicit FrameReader(int fd, size_t max_header_bytes = 16 << 20,
                       size_t max_payload_bytes = size_t{8} << 30)
      : fd_(fd), max_header_(max_header_bytes), max_payload_(max_payload_bytes) {}

  // Reads one frame. Errors: kTimeout, kIoError (EOF, malformed frame).
  Result<Frame> Read(std::chrono::steady_clock::time_point deadline);

 private:
  Status Fill(std::chrono::steady_clock::time_point deadline);
  int fd_;
  size_t max_header_, max_payload_;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace evokernel
