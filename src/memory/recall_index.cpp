#include "memory/recall_index.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace evokernel::memory {
namespace {

// Quantises a vector to int8 with a per-vector scale. Returns max|v| / 127.
float Quantise(const float* v, int dim, int8_t* out) {
  float m = 0;
  for (int i = 0; i < dim; ++i) m = std::max(m, std::fabs(v[i]));
  if (m == 0) {
    std::fill(out, out + dim, 0);
    return 0;
  }
  float s = 127.0f / m;
  for (int i = 0; i < dim; ++i) out[i] = static_cast<int8_t>(std::lround(v[i] * s));
  return m / 127.0f;
}

// int8 dot products of one query against `count` consecutive vectors. Compiled for AVX2 and
// AVX-512 as well as the baseline, picked at load time (GCC function multi-versioning).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void DotBlock64(
    const int8_t* __restrict q, const int8_t* __restrict base, size_t count, int32_t* __restrict out) {
  for (size_t i = 0; i < count; ++i) {
    const int8_t* v = base + i * 64;
    int32_t acc = 0;
    for (int d = 0; d < 64; ++d) acc += static_cast<int32_t>(q[d]) * static_cast<int32_t>(v[d]);
    out[i] = acc;
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void DotBlockN(
    const int8_t* __restrict q, const int8_t* __restrict base, int dim, size_t count,
    int32_t* __restrict out) {
  for (size_t i = 0; i < count; ++i) {
    const int8_t* v = base + i * static_cast<size_t>(dim);
    int32_t acc = 0;
    for (int d = 0; d < dim; ++d) acc += static_cast<int32_t>(q[d]) * static_cast<int32_t>(v[d]);
    out[i] = acc;
  }
}

}  // namespace

uint32_t RecallFilter::KindMask(const std::vector<ItemKind>& kinds) {
  if (kinds.empty()) return ~0u;
  uint32_t mask = 0;
  for (ItemKind k : kinds) mask |= 1u << static_cast<int>(k);
  return mask;
}

void RecallIndex::Clear(int dim) {
  *this = RecallIndex(dim);
}

void RecallIndex::Reserve(size_t rows) {
  rid_.reserve(rows);
  vec_.reserve(rows * static_cast<size_t>(dim_));
  inv_scale_.reserve(rows);
  kind_.reserve(rows);
  stage_.reserve(rows);
  backend_.reserve(rows);
  task_.reserve(rows);
}

uint32_t RecallIndex::Intern(std::vector<std::string>& names, std::unordered_map<std::string, uint32_t>& ids,
                             std::string_view s) {
  auto [it, inserted] = ids.try_emplace(std::string(s), static_cast<uint32_t>(names.size()));
  if (inserted) names.emplace_back(s);
  return it->second;
}

Status RecallIndex::Append(int64_t rid, ItemKind kind, Stage stage, std::string_view backend,
                           std::string_view task_id, std::span<const float> embedding) {
  if (!rid_.empty() && rid <= rid_.back())
    return InvalidArgument(fmt::format("row {} is not above the last indexed row {}", rid, rid_.back()));
  if (embedding.size() != static_cast<size_t>(dim_))
    return InvalidArgument(fmt::format("row {} has {} dimensions, the index {}", rid, embedding.size(), dim_));
  if (backends_.size() == 65535 && !backend_ids_.count(std::string(backend)))
    return InvalidArgument("more than 65535 backends");
  const size_t slot = rid_.size();
  rid_.push_back(rid);
  vec_.resize((slot + 1) * dim_);
  inv_scale_.push_back(Quantise(embedding.data(), dim_, vec_.data() + slot * dim_));
  kind_.push_back(static_cast<uint8_t>(kind));
  stage_.push_back(static_cast<uint8_t>(stage));
  backend_.push_back(static_cast<uint16_t>(Intern(backends_, backend_ids_, backend)));
  task_.push_back(Intern(tasks_, task_ids_, task_id));
  return Status::Ok();
}

std::vector<RecallCandidate> RecallIndex::Candidates(std::span<const float> query, const RecallFilter& filter,
                                                     int k) const {
  std::vector<RecallCandidate> out;
  if (k < 1 || query.size() != static_cast<size_t>(dim_)) return out;
  std::vector<int8_t> q8(dim_);
  const float q_scale = Quantise(query.data(), dim_, q8.data());

  const uint32_t kind_mask = filter.kinds;
  const uint32_t stage_mask = filter.stage == Stage::kAny
                                  ? ~0u
                                  : (1u << static_cast<int>(filter.stage)) | (1u << static_cast<int>(Stage::kAny));
  int64_t want_backend = -1, want_task = -1;
  if (!filter.backend.empty()) {
    auto it = backend_ids_.find(std::string(filter.backend));
    if (it == backend_ids_.end()) return out;
    want_backend = it->second;
  }
  if (!filter.task_id.empty()) {
    auto it = task_ids_.find(std::string(filter.task_id));
    if (it == task_ids_.end()) return out;
    want_task = it->second;
  }

  const size_t n = size();
  const size_t want = std::min(n, static_cast<size_t>(std::max(2 * static_cast<int64_t>(k), int64_t{k} + 16)));
  using Cand = std::pair<float, uint32_t>;  // (score, slot); the heap's front is the worst kept
  auto better = [](const Cand& a, const Cand& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::vector<Cand> heap;
  heap.reserve(want + 1);
  constexpr size_t kBlock = 1024;
  int32_t dots[kBlock];
  for (size_t start = 0; start < n; start += kBlock) {
    size_t count = std::min(kBlock, n - start);
    if (dim_ == 64)
      DotBlock64(q8.data(), vec_.data() + start * 64, count, dots);
    else
      DotBlockN(q8.data(), vec_.data() + start * dim_, dim_, count, dots);
    for (size_t i = 0; i < count; ++i) {
      size_t slot = start + i;
      float score = static_cast<float>(dots[i]) * inv_scale_[slot];
      if (heap.size() == want && score <= heap.front().first) continue;
      if (!((kind_mask >> kind_[slot]) & 1u) || !((stage_mask >> stage_[slot]) & 1u)) continue;
      if (want_backend >= 0 && backend_[slot] != want_backend) continue;
      if (want_task >= 0 && task_[slot] != want_task) continue;
      heap.emplace_back(score, static_cast<uint32_t>(slot));
      std::push_heap(heap.begin(), heap.end(), better);
      if (heap.size() > want) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.pop_back();
      }
    }
  }
  std::sort_heap(heap.begin(), heap.end(), better);  // best first
  out.reserve(heap.size());
  for (const auto& [score, slot] : heap) out.push_back({rid_[slot], score * q_scale});
  return out;
}

}  // namespace evokernel::memory
