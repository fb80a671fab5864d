// evokernel-runner: executes one built kernel in its own process.
//
//   evokernel-runner --backend cpu --artifact kernel.so --threads N
//
// Speaks the framed protocol (src/common/wire.h) on stdin/stdout with the verifier:
//   <- {"ok": true, "ready": true}              after loading (or ok=false, kind=load_error)
//   -> {"cmd": "spec", "args": [{name, role, dtype, shape}, ...]}
//   -> {"cmd": "run", "stash": bool} + input and param tensors
//        <- outputs + {elapsed_ns, canary: [{name, side, role}], modified_inputs: [name],
//                      late_writes: [name], threads_after: N}
//        stash=true keeps the inputs as a timing set (at most kMaxStash, oldest dropped).
//   -> {"cmd": "time", "warmup", "trials", "flush_bytes", "seed", "offset"}
//        <- {"times_ns": [...], "calls": [{"set": k, "fresh": bool, "fp": [[pos, value]...]
//            per output}]}: timed calls run on the stashed sets in the argument buffers (same
//            addresses, changing content: another set every 4 calls, on an unperturbed call);
//            every other call perturbs a few elements so the content is new; fingerprints of
//            the outputs of unperturbed calls let the verifier check them against the outputs
//            it verified for that set.
//   -> {"cmd": "quit"}
// The kernel's own writes to stdout go to stderr: the protocol stream is a private descriptor.
// Everything the kernel could corrupt is checked by the verifier, which trusts nothing here
// beyond the bytes it receives.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/poison.h"
#include "common/wire.h"
#include "runner/device.h"
#include "runner/guarded_buffer.h"
#include "runner/sandbox.h"

namespace evokernel::runner {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kForever = std::chrono::hours(24 * 365);

struct ArgSpec {
  std::string name;
  bool output = false;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
};

class Runner {
 public:
  Runner(int out_fd, std::unique_ptr<Device> dev, int task_dir_fd)
      : out_fd_(out_fd), dev_(std::move(dev)), task_dir_fd_(task_dir_fd) {}

  int Loop() {
    FrameReader reader(0);
    while (true) {
      auto f = reader.Read(Clock::now() + kForever);
      if (!f.ok()) return 0;  // verifier went away
      std::string cmd = f->header.value("cmd", "");
      Status st;
      if (cmd == "spec") {
        st = OnSpec(f->header);
        if (st.ok()) Reply({{"ok", true}});
      } else if (cmd == "run") {
        st = OnRun(std::move(f->tensors), f->header.value("stash", false));
      } else if (cmd == "time") {
        st = OnTime(f->header);
      } else if (cmd == "quit") {
        return 0;
      } else {
        st = InvalidArgument("unknown command '" + cmd + "'");
      }
      if (!st.ok()) Reply({{"ok", false}, {"kind", StatusCodeName(st.code())}, {"error", st.message()}});
    }
  }

  void Reply(nlohmann::json header, std::vector<Tensor> tensors = {}) {
    Frame f;
    f.header = std::move(header);
    f.tensors = std::move(tensors);
    if (!WriteFrame(out_fd_, f).ok()) std::_Exit(0);
  }

 private:
  Status OnSpec(const nlohmann::json& h) {
    args_.clear();
    try {
      for (const auto& a : h.at("args")) {
        ArgSpec s;
        s.name = a.at("name").get<std::string>();
        s.output = a.at("role").get<std::string>() == "output";
        auto dt = ParseDType(a.at("dtype").get<std::string>());
        if (!dt) return InvalidArgument("bad dtype in spec");
        s.dtype = *dt;
        s.shape = a.at("shape").get<std::vector<int64_t>>();
        args_.push_back(std::move(s));
      }
    } catch (const std::exception& e) {
      return InvalidArgument(std::string("bad spec: ") + e.what());
    }
    if (dev_->NumArgs() != static_cast<int>(args_.size()))
      return InvalidArgument("the kernel was built for " + std::to_string(dev_->NumArgs()) +
                             " arguments but the spec has " + std::to_string(args_.size()));
    bufs_.clear();
    n_out_ = 0;
    for (const auto& a : args_) {
      bufs_.push_back(std::make_unique<GuardedBuffer>(a.name, static_cast<size_t>(NumElements(a.shape)) * DTypeSize(a.dtype), a.output));
      if (!bufs_.back()->valid()) return InvalidArgument("cannot map a buffer for argument '" + a.name + "'");
      n_out_ += a.output;
    }
    return Status::Ok();
  }

  Status OnRun(std::vector<Tensor> in, bool stash) {
    size_t n_in = args_.size() - n_out_;
    if (in.size() != n_in)
      return InvalidArgument("run: got " + std::to_string(in.size()) + " tensors, expected " + std::to_string(n_in));
    for (size_t i = 0; i < n_in; ++i) {
      if (in[i].dtype() != args_[i].dtype || in[i].shape() != args_[i].shape)
        return InvalidArgument("run: tensor " + std::to_string(i) + " does not match the spec");
      std::memcpy(bufs_[i]->data(), in[i].data(), in[i].nbytes());
    }
    pristine_ = std::move(in);  // the frame's own copies: what the inputs must still equal
    held_set_ = -1;             // the buffers no longer hold a stashed set
    for (size_t i = 0; i < args_.size(); ++i) {
      bufs_[i]->FillCanaries();
      if (args_[i].output) PoisonElements(args_[i].dtype, bufs_[i]->data(), NumElements(args_[i].shape));
    }
    std::vector<void*> ptrs = Pointers();
    auto t0 = Clock::now();
    EVK_RETURN_IF_ERROR(dev_->Call(ptrs.data()));
    auto t1 = Clock::now();
    // Nothing may keep running after the call: count threads, then look at the outputs again
    // after a pause.
    int threads_after = CountThreads();
    std::vector<Tensor> outs;
    for (size_t i = n_in; i < args_.size(); ++i) {
      Tensor t(args_[i].name, args_[i].dtype, args_[i].shape);
      std::memcpy(t.data(), bufs_[i]->data(), t.nbytes());
      outs.push_back(std::move(t));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    nlohmann::json late = nlohmann::json::array();
    for (size_t i = n_in; i < args_.size(); ++i)
      if (std::memcmp(outs[i - n_in].data(), bufs_[i]->data(), outs[i - n_in].nbytes()) != 0)
        late.push_back(args_[i].name);
    nlohmann::json canary = nlohmann::json::array(), modified = nlohmann::json::array();
    for (size_t i = 0; i < args_.size(); ++i) {
      std::string side = bufs_[i]->CanaryViolation();
      if (!side.empty())
        canary.push_back({{"name", args_[i].name}, {"side", side}, {"role", args_[i].output ? "output" : "input"}});
      if (i < n_in && std::memcmp(bufs_[i]->data(), pristine_[i].data(), pristine_[i].nbytes()) != 0)
        modified.push_back(args_[i].name);
    }
    if (stash) {
      std::vector<Tensor> set;
      for (const auto& t : pristine_) set.push_back(t.Clone());
      stash_.push_back(std::move(set));
      if (stash_.size() > kMaxStash) stash_.pop_front();
    }
    Reply({{"ok", true},
           {"elapsed_ns", std::chrono::duration<double, std::nano>(t1 - t0).count()},
           {"canary", canary},
           {"modified_inputs", modified},
           {"late_writes", late},
           {"threads_after", threads_after}},
          std::move(outs));
    return Status::Ok();
  }

  // Threads of this process, from the /proc/self/task descriptor opened before the sandbox.
  int CountThreads() {
    if (task_dir_fd_ < 0) return -1;
    if (lseek(task_dir_fd_, 0, SEEK_SET) < 0) return -1;
    char buf[8192];
    int n = 0;
    while (true) {
      long r = syscall(SYS_getdents64, task_dir_fd_, buf, sizeof buf);
      if (r <= 0) break;
      for (long off = 0; off < r;) {
        auto* name = buf + off + 19;  // struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name
        unsigned short reclen;
        std::memcpy(&reclen, buf + off + 16, sizeof reclen);
        if (name[0] != '.') ++n;
        off += reclen;
      }
    }
    return n;
  }

  Status OnTime(const nlohmann::json& h) {
    if (pristine_.empty() && n_out_ != args_.size()) return InvalidArgument("time: no inputs yet");
    int warmup = h.value("warmup", 3), trials = h.value("trials", 10);
    size_t flush_bytes = h.value("flush_bytes", size_t{0});
    std::mt19937_64 rng(h.value("seed", uint64_t{1}));
    // Kept across requests: a fresh buffer would page-fault on its first write every time.
    if (flush_.size() != flush_bytes) flush_.assign(flush_bytes, 0);
    std::vector<char>& flush = flush_;
    const uint64_t offset = h.value("offset", uint64_t{0});  // calls made before this request
    std::vector<void*> ptrs = Pointers();
    const size_t n_in = args_.size() - n_out_;
    // Without stashed sets (n_in == 0 or none stashed) the current inputs are reused.
    // Switching sets copies the whole set into the argument buffers; staying on the set the
    // buffers hold only undoes the last perturbation (tens of MB per call saved on large
    // tasks). The cache flush after it makes both equally cold.
    auto load_set = [&](size_t k, bool perturb) {
      if (stash_.empty()) return;
      const auto& set = stash_[k];
      if (held_set_ != static_cast<int>(k)) {
        for (size_t i = 0; i < n_in; ++i) std::memcpy(bufs_[i]->data(), set[i].data(), set[i].nbytes());
        held_set_ = static_cast<int>(k);
      } else {
        for (const auto& [i, off, len] : perturbed_)
          std::memcpy(bufs_[i]->data() + off, set[i].data() + off, len);
      }
      perturbed_.clear();
      if (!perturb) return;
      for (size_t i = 0; i < n_in; ++i) {
        int64_t n = NumElements(args_[i].shape);
        if (n == 0 || !IsFloating(args_[i].dtype)) continue;
        const size_t es = DTypeSize(args_[i].dtype);
        for (int j = 0; j < 8; ++j) {
          int64_t e = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
          if (args_[i].dtype == DType::kFloat32) reinterpret_cast<float*>(bufs_[i]->data())[e] *= 1.0078125f;
          else reinterpret_cast<double*>(bufs_[i]->data())[e] *= 1.0078125;
          perturbed_.push_back({i, static_cast<size_t>(e) * es, es});
        }
      }
    };
    for (int i = 0; i < warmup; ++i) {
      load_set(0, false);
      EVK_RETURN_IF_ERROR(dev_->Call(ptrs.data()));
    }
    std::vector<double> times;
    nlohmann::json calls = nlohmann::json::array();
    for (int i = 0; i < trials; ++i) {
      const uint64_t call = offset + static_cast<uint64_t>(i);
      bool fresh = !stash_.empty() && (call & 1);  // seen and fresh alternate
      // Another set every kSwitchEvery calls, always on a seen call, so a kernel that caches
      // by pointer or shape returns the previous set's outputs where the fingerprint is checked.
      size_t k = held_set_ >= 0 ? static_cast<size_t>(held_set_) : 0;  // stash_ changes only in OnRun, which resets it
      if (stash_.size() > 1 && (held_set_ < 0 || call % kSwitchEvery == 0))
        k = (k + 1 + rng() % (stash_.size() - 1)) % stash_.size();
      load_set(k, fresh);
      if (!flush.empty()) {
        std::memset(flush.data(), i & 0xff, flush.size());
        asm volatile("" : : "r"(flush.data()) : "memory");
      }
      auto t0 = Clock::now();
      EVK_RETURN_IF_ERROR(dev_->Call(ptrs.data()));
      auto t1 = Clock::now();
      times.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
      nlohmann::json fp = nlohmann::json::array();
      if (!fresh) {
        for (size_t o = n_in; o < args_.size(); ++o) {
          int64_t n = NumElements(args_[o].shape);
          nlohmann::json pts = nlohmann::json::array();
          for (int j = 0; j < 16 && n > 0; ++j) {
            int64_t e = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
            double v = 0;
            const std::byte* p = bufs_[o]->data() + static_cast<size_t>(e) * DTypeSize(args_[o].dtype);
            switch (args_[o].dtype) {
              case DType::kFloat32: { float f; std::memcpy(&f, p, 4); v = f; break; }
              case DType::kFloat64: std::memcpy(&v, p, 8); break;
              case DType::kInt64: { int64_t x; std::memcpy(&x, p, 8); v = static_cast<double>(x); break; }
              case DType::kInt32: { int32_t x; std::memcpy(&x, p, 4); v = x; break; }
              case DType::kBool:
              case DType::kUInt8: v = static_cast<double>(static_cast<uint8_t>(*p)); break;
            }
            pts.push_back({e, std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::to_string(v))});
          }
          fp.push_back(pts);
        }
      }
      calls.push_back({{"set", k}, {"fresh", fresh}, {"fp", fp}});
    }
    Reply({{"ok", true}, {"times_ns", times}, {"calls", calls}});
    return Status::Ok();
  }

  std::vector<void*> Pointers() {
    std::vector<void*> p;
    for (auto& b : bufs_) p.push_back(b->data());
    return p;
  }

  int out_fd_;
  std::unique_ptr<Device> dev_;
  std::vector<ArgSpec> args_;
  std::vector<std::unique_ptr<GuardedBuffer>> bufs_;  // one per argument, contract order
  size_t n_out_ = 0;
  std::vector<Tensor> pristine_;  // inputs as received, for the modification check
  static constexpr size_t kMaxStash = 4;
  std::deque<std::vector<Tensor>> stash_;  // verified input sets for the timing loop
  std::vector<char> flush_;                 // cache-flush buffer of the time requests
  // Which stashed set the input buffers hold (-1: none or unknown), and the perturbed byte
  // ranges (input, offset, length) that differ from it.
  int held_set_ = -1;
  struct Range {
    size_t input, offset, length;
  };
  std::vector<Range> perturbed_;
  static constexpr uint64_t kSwitchEvery = 4;
  int task_dir_fd_ = -1;
};

int Main(int argc, char** argv) {
  std::string backend = "cpu", artifact;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--device" || k == "--backend") backend = v;
    else if (k == "--artifact") artifact = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
  }
  // The protocol keeps a private copy of stdout; fd 1 then points at stderr so that whatever
  // the kernel prints cannot corrupt the stream.
  int out_fd = dup(1);
  dup2(2, 1);
  // libgomp reads this when the kernel library pulls it in.
  setenv("OMP_NUM_THREADS", std::to_string(threads < 1 ? 1 : threads).c_str(), 1);

  auto fail = [&](const Status& st) {
    Frame f;
    f.header = {{"ok", false}, {"kind", "load_error"}, {"error", st.message()}};
    (void)WriteFrame(out_fd, f);
    return 3;
  };
  InstallGuardHandler();
  auto dev = MakeDevice(backend);
  if (!dev.ok()) return fail(dev.status());
  // Sandbox: no network at all where namespaces are permitted; seccomp always. The load phase
  // confines the kernel library's static initialisers, the run phase everything after.
  bool netns = EnterNetworkNamespace();
  int task_dir_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  SandboxInfo load_phase = InstallSandbox(SandboxPhase::kLoad);
  if (Status st = (*dev)->Load(artifact); !st.ok()) return fail(st);
  SandboxInfo run_phase = load_phase.seccomp ? InstallSandbox(SandboxPhase::kRun) : load_phase;
  Runner runner(out_fd, std::move(dev).value(), task_dir_fd);
  runner.Reply({{"ok", true},
                {"ready", true},
                {"sandbox", {{"seccomp", load_phase.seccomp && run_phase.seccomp},
                             {"network_namespace", netns},
                             {"error", load_phase.error.empty() ? run_phase.error : load_phase.error}}}});
  return runner.Loop();
}

}  // namespace
}  // namespace evokernel::runner

int main(int argc, char** argv) { return evokernel::runner::Main(argc, argv); }
