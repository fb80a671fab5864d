#include "common/tensor.h"

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

void AlignedFree::operator()(std::byte* p) const { std::free(p); }

Tensor::Tensor(std::string name, DType dtype, std::vector<int64_t> shape)
    : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {
  size_t alloc = (nbytes() + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  data_.reset(static_cast<std::byte*>(std::aligned_alloc(64, alloc)));
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
