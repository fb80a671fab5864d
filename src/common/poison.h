// Output poisoning: before every kernel call each output element is set to a sentinel bit
// pattern no correct kernel produces (a signalling NaN with a payload for floats, an
// out-of-range value for integers, 0xA5 for bools). Elements that still hold it afterwards were
// never written. kCanaryByte fills the slack around each argument in the runner's guarded
// buffers (runner/guarded_buffer.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/tensor.h"

namespace evokernel {

constexpr uint32_t kPoisonF32 = 0x7FBADBADu;
constexpr uint64_t kPoisonF64 = 0x7FF7BADBADBADBADull;
constexpr uint64_t kPoisonI64 = 0x5EADBEEF5EADBEEFull;
constexpr uint32_t kPoisonI32 = 0x5EADBEEFu;
constexpr uint8_t kPoisonByte = 0xA5;
constexpr uint8_t kCanaryByte = 0xCD;

// Fills every element of t with the poison pattern.
void Poison(Tensor& t);
// Fills `numel` elements of `dtype` at `p` with the poison pattern.
void PoisonElements(DType dtype, std::byte* p, int64_t numel);
// Whether element i still holds the poison pattern.
bool IsPoison(const Tensor& t, int64_t i);

}  // namespace evokernel
