#include "common/tensor.h"

#include "common/sanitizers.h"

#include <sys/mman.h>

#include <mutex>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace evokernel {

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kInt32: return 4;
    case DType::kBool: return 1;
    case DType::kUInt8: return 1;
  }
  return 1;
}

std::string_view DTypeName(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kBool: return "bool";
    case DType::kUInt8: return "uint8";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view n) {
  if (n == "float32") return DType::kFloat32;
  if (n == "float64") return DType::kFloat64;
  if (n == "int64") return DType::kInt64;
  if (n == "int32") return DType::kInt32;
  if (n == "bool") return DType::kBool;
  if (n == "uint8") return DType::kUInt8;
  return std::nullopt;
}

std::string_view DTypeCType(DType d) {
  switch (d) {
    case DType::kFloat32: return "float";
    case DType::kFloat64: return "double";
    case DType::kInt64: return "int64_t";
    case DType::kInt32: return "int32_t";
    case DType::kBool: return "bool";
    case DType::kUInt8: return "uint8_t";
  }
  return "void";
}

bool IsFloating(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string IndexString(const std::vector<int64_t>& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    int64_t s = shape[d] > 0 ? shape[d] : 1;
    idx[d] = flat % s;
    flat /= s;
  }
  return ShapeString(idx);
}

namespace {

// From here on, buffers are mappings. Under AddressSanitizer every buffer comes from the
// instrumented allocator instead, so overruns of tensor data are still reported.
#if defined(EVOKERNEL_ASAN)
constexpr size_t kLargeBytes = SIZE_MAX;
#else
constexpr size_t kLargeBytes = size_t{1} << 20;
#endif
constexpr size_t kBlockGrain = size_t{64} << 10;  // sizes are rounded to this

// Freed large mappings, newest last, reused by exact (rounded) size.
class BlockCache {
 public:
  std::byte* Take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = blocks_.size(); i-- > 0;) {
        if (blocks_[i].second != bytes) continue;
        std::byte* p = blocks_[i].first;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
        held_ -= bytes;
        return p;
      }
    }
    // No MADV_HUGEPAGE: where the kernel compacts memory on such faults, a first touch can
    // stall for tens of ms; reuse is what removes the faults.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }

  void Give(std::byte* p, size_t bytes) {
    std::vector<std::pair<std::byte*, size_t>> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bytes <= kTensorCacheBytes) {
        blocks_.emplace_back(p, bytes);
        held_ += bytes;
        p = nullptr;
      }
      while (held_ > kTensorCacheBytes) {
        drop.push_back(blocks_.front());
        held_ -= blocks_.front().second;
        blocks_.erase(blocks_.begin());
      }
    }
    if (p) munmap(p, bytes);
    for (auto [q, n] : drop) munmap(q, n);
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::byte*, size_t>> blocks_;
  size_t held_ = 0;
};

BlockCache& Blocks() {
  static auto* cache = new BlockCache();  // never destroyed: tensors may outlive statics
  return *cache;
}

}  // namespace

void AlignedFree::operator()(std::byte* p) const {
  if (bytes >= kLargeBytes) Blocks().Give(p, bytes);
  else std::free(p);
}

Tensor::Tensor(std::string name, DType dtype, std::vector<int64_t> shape)
    : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {
  size_t alloc = (nbytes() + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  std::byte* p = nullptr;
  if (alloc >= kLargeBytes) {
    alloc = (alloc + kBlockGrain - 1) / kBlockGrain * kBlockGrain;
    p = Blocks().Take(alloc);
  } else {
    p = static_cast<std::byte*>(std::aligned_alloc(64, alloc));
  }
  if (!p) throw std::bad_alloc();
  data_ = std::unique_ptr<std::byte[], AlignedFree>(p, AlignedFree{alloc});
}

double Tensor::GetAsDouble(int64_t i) const {
  switch (dtype_) {
    case DType::kFloat32: return as<float>()[i];
    case DType::kFloat64: return as<double>()[i];
    case DType::kInt64: return static_cast<double>(as<int64_t>()[i]);
    case DType::kInt32: return as<int32_t>()[i];
    case DType::kBool: return static_cast<double>(as<uint8_t>()[i]);
    case DType::kUInt8: return as<uint8_t>()[i];
  }
  return 0;
}

Tensor Tensor::Clone() const {
  Tensor t(name_, dtype_, shape_);
  if (nbytes()) std::memcpy(t.data(), data(), nbytes());
  return t;
}

}  // namespace evokernel
