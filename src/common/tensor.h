// Host tensors exchanged between evokernel, the PyTorch oracle and the kernel runner.
//
// A Tensor owns a 64-byte aligned, contiguous, row-major buffer. Values are plain bytes; the
// dtype says how to read them. Movable, not copyable (buffers can be large).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evokernel {

enum class DType { kFloat32, kFloat64, kInt64, kInt32, kBool, kUInt8 };

size_t DTypeSize(DType d);
std::string_view DTypeName(DType d);  // PyTorch spelling: "float32", "int64", "bool", ...
std::optional<DType> ParseDType(std::string_view name);
std::string_view DTypeCType(DType d);  // "float", "double", "int64_t", "bool", ...
bool IsFloating(DType d);

int64_t NumElements(const std::vector<int64_t>& shape);
std::string ShapeString(const std::vector<int64_t>& shape);  // "[8, 3, 64, 64]"

// Deleter of tensor buffers. Buffers of a MiB or more are mappings kept in a process-wide cache
// when freed: the verifier makes tensors of the same sizes trial after trial, and a fresh
// mapping each time costs a page fault per 4 KiB touched (about 0.1 s per trial of a 28 MiB
// task on this VM, where glibc maps and unmaps such buffers on every allocation). `bytes` is
// the size that was allocated.
struct AlignedFree {
  size_t bytes = 0;
  void operator()(std::byte* p) const;
};

// Bytes of freed large buffers the process keeps for reuse (at most; older ones are unmapped).
constexpr size_t kTensorCacheBytes = size_t{512} << 20;

class Tensor {
 public:
  Tensor() = default;
  // Allocates an uninitialised buffer for `shape`.
  Tensor(std::string name, DType dtype, std::vector<int64_t> shape);

  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype_); }

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  template <typename T>
  T* as() { return reinterpret_cast<T*>(data_.get()); }
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data_.get()); }

  // Reads element i as double (any dtype).
  double GetAsDouble(int64_t i) const;
  Tensor Clone() const;

 private:
  std::string name_;
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  std::unique_ptr<std::byte[], AlignedFree> data_;
};

// Multi-dimensional index of flat element i: "[0, 3, 12, 5]".
std::string IndexString(const std::vector<int64_t>& shape, int64_t flat);

}  // namespace evokernel
