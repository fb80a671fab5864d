// Comparing a kernel's outputs with the reference, with feedback that localises mismatches.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/tensor.h"

namespace evokernel {

struct OutputReport {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  int64_t numel = 0;
  int64_t mismatches = 0;     // elements outside tolerance (unwritten and non-finite included)
  int64_t unwritten = 0;      // elements still holding the poison pattern
  int64_t nonfinite_mismatches = 0;  // written elements whose NaN/Inf differ from the reference
  double max_abs_err = 0;     // over written, finite element pairs
  double max_rel_err = 0;     // |got - exp| / |exp| over those with |exp| > atol (> 0 for ints)
  int64_t worst_index = -1;   // element violating the tolerance the most
  double worst_expected = 0, worst_got = 0;
  int64_t first_index = -1;   // first mismatching element
  std::vector<std::pair<int64_t, int64_t>> span;  // per dimension: min..max mismatching index
  double atol = 0, rtol = 0;
  bool passed = false;

  nlohmann::json ToJson() const;
  // One paragraph a model can act on.
  std::string Describe() const;
};

// The rule for one element: |got - exp| <= atol + rtol * |exp| for floating dtypes, with NaN
// matching only NaN and infinities matching exactly; exact equality for integer and bool dtypes.
bool ElementMatches(DType dtype, double expected, double got, double atol, double rtol);

// Elementwise check: |got - exp| <= atol + rtol * |exp| for floating outputs (NaN and Inf must
// sit at exactly the reference's positions); exact equality for integer and bool outputs.
// Precondition: same dtype and shape (the runner allocates outputs from the contract).
OutputReport CompareOutput(const Tensor& expected, const Tensor& got, double atol, double rtol);

}  // namespace evokernel
