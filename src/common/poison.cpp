#include "common/poison.h"

#include <cstring>

namespace evokernel {

void Poison(Tensor& t) { PoisonElements(t.dtype(), t.data(), t.numel()); }

void PoisonElements(DType dtype, std::byte* p, int64_t n) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kInt32: {
      uint32_t v = dtype == DType::kFloat32 ? kPoisonF32 : kPoisonI32;
      for (int64_t i = 0; i < n; ++i) std::memcpy(p + 4 * i, &v, 4);
      break;
    }
    case DType::kFloat64:
    case DType::kInt64: {
      uint64_t v = dtype == DType::kFloat64 ? kPoisonF64 : kPoisonI64;
      for (int64_t i = 0; i < n; ++i) std::memcpy(p + 8 * i, &v, 8);
      break;
    }
    case DType::kBool:
    case DType::kUInt8:
      std::memset(p, kPoisonByte, static_cast<size_t>(n));
      break;
  }
}

bool IsPoison(const Tensor& t, int64_t i) {
  const std::byte* p = t.data();
  switch (t.dtype()) {
    case DType::kFloat32: {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v == kPoisonF32;
    }
    case DType::kInt32: {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v == kPoisonI32;
    }
    case DType::kFloat64: {
      uint64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      return v == kPoisonF64;
    }
    case DType::kInt64: {
      uint64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      return v == kPoisonI64;
    }
    case DType::kBool:
    case DType::kUInt8:
      return static_cast<uint8_t>(p[i]) == kPoisonByte;
  }
  return false;
}


}  // namespace evokernel
