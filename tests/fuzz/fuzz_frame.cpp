// Fuzz target: decoding the framed protocol (common/wire.h) that evokernel, the PyTorch oracle
// and evokernel-runner speak over pipes: a JSON header line listing tensors, then their bytes.
// The runner decodes evokernel's requests with FrameReader, the verifier and the oracle client
// decode the replies with it.
//
// Input: the byte stream, served from a memfd, decoded frame after frame until the reader
// refuses or reaches the end (as a peer closing the pipe). The reader's limits are small
// (1 MiB header, 1 MiB payload) so a frame that gets past them would show as an allocation
// above libFuzzer's -malloc_limit_mb. Checked: nothing throws; every frame's header is an
// object and its tensors stay within the limit; a frame that was read, written back with
// WriteFrame and read again is the same frame.

#include <cstdint>
#include <cstring>

#include "common/wire.h"
#include "fuzz/fuzz_util.h"

namespace evokernel::fuzz {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHeader = size_t{1} << 20;
constexpr size_t kMaxPayload = size_t{1} << 20;

void CheckRoundTrip(Frame& frame, MemFile& scratch) {
  scratch.Set({});
  Status w = WriteFrame(scratch.fd(), frame);
  EVK_FUZZ_CHECK(w.ok(), "WriteFrame failed: " + w.ToString());
  if (lseek(scratch.fd(), 0, SEEK_SET) != 0) Die("lseek failed");
  FrameReader again(scratch.fd(), kMaxHeader * 2, kMaxPayload);
  auto g = again.Read(Clock::now() + std::chrono::seconds(10));
  EVK_FUZZ_CHECK(g.ok(), "a written frame does not read back: " + g.status().ToString());
  EVK_FUZZ_CHECK(g->header == frame.header, "the header changed on the way");
  EVK_FUZZ_CHECK(g->tensors.size() == frame.tensors.size(), "the tensor count changed on the way");
  for (size_t i = 0; i < frame.tensors.size(); ++i) {
    const Tensor& a = frame.tensors[i];
    const Tensor& b = g->tensors[i];
    EVK_FUZZ_CHECK(a.name() == b.name() && a.dtype() == b.dtype() && a.shape() == b.shape(), "tensor " + a.name());
    EVK_FUZZ_CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0, "the bytes of tensor " + a.name() + " changed");
  }
}

}  // namespace
}  // namespace evokernel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel;
  using namespace evokernel::fuzz;
  static MemFile stream, scratch;
  stream.Set(AsText(data, size));
  FrameReader reader(stream.fd(), kMaxHeader, kMaxPayload);
  // Every frame takes at least its '\n', so this ends; the bound only keeps a run short.
  for (int frames = 0; frames < 256; ++frames) {
    auto f = reader.Read(Clock::now() + std::chrono::seconds(10));
    Note("frame " + std::to_string(frames) + ": " +
         (f.ok() ? std::to_string(f->tensors.size()) + " tensor(s)" : f.status().ToString()));
    if (!f.ok()) {
      EVK_FUZZ_CHECK(f.status().code() == StatusCode::kIoError, "unexpected error " + f.status().ToString());
      break;
    }
    EVK_FUZZ_CHECK(f->header.is_object(), "a header that is not an object");
    size_t total = 0;
    for (const Tensor& t : f->tensors) total += t.nbytes();
    EVK_FUZZ_CHECK(total <= kMaxPayload, "a frame above the payload limit");
    CheckRoundTrip(*f, scratch);
  }
  return 0;
}
