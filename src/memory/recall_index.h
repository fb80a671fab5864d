// The in-memory recall index that every MemoryStore keeps (docs/memory.md, Recall): what the
// scan needs of each item, in contiguous arrays in row-id order: the row id, kind, stage,
// interned backend and task id, and the embedding quantised to int8 with a per-vector scale.
//
// The index knows nothing of the database. A store decides which rows to load and when (the
// SQLite store: all rows on the first recall and after a prune, then the rows above the last
// change counter it saw), appends them here, asks for candidates, and rescores those exactly
// from the float vectors it reads with the rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

// Which rows a query may return.
struct RecallFilter {
  uint32_t kinds = ~0u;        // bit (1 << ItemKind) per allowed kind (KindMask)
  Stage stage = Stage::kAny;   // kDraft: rows of stage draft or any; kRefine likewise; kAny: all
  std::string_view backend;    // only rows of this backend; empty: every backend
  std::string_view task_id;    // only rows of this task; empty: every task

  // The kinds bit mask of a RecallQuery's kinds (empty: every kind).
  static uint32_t KindMask(const std::vector<ItemKind>& kinds);
};

// A row the int8 scan ranks among the best.
struct RecallCandidate {
  int64_t rid = 0;
  float approx = 0;  // the int8 estimate of the cosine with the query
};

class RecallIndex {
 public:
  explicit RecallIndex(int dim = 0) : dim_(dim) {}

  // Empties the index for vectors of `dim` floats.
  void Clear(int dim);
  // Room for `rows` rows in all, so a full load does not reallocate.
  void Reserve(size_t rows);

  // Appends one row. Row ids must increase (a row with an id at or below last_rid() is
  // refused: the caller skips rows it already holds). Fails, leaving the index unchanged, when
  // the embedding does not have dim() floats or when a 65536th backend would be interned.
  Status Append(int64_t rid, ItemKind kind, Stage stage, std::string_view backend, std::string_view task_id,
                std::span<const float> embedding);

  // The rows passing `filter` with the best int8 scores against `query` (dim() floats), best
  // first (ties: lower row id first); max(2k, k+16) of them, or all when fewer pass, enough
  // that int8 rounding (~1e-3 of a cosine) cannot push one of the true top k out. Empty when
  // k < 1.
  std::vector<RecallCandidate> Candidates(std::span<const float> query, const RecallFilter& filter, int k) const;

  int dim() const { return dim_; }
  size_t size() const { return rid_.size(); }
  bool empty() const { return rid_.empty(); }
  int64_t last_rid() const { return rid_.empty() ? 0 : rid_.back(); }

 private:
  static uint32_t Intern(std::vector<std::string>& names, std::unordered_map<std::string, uint32_t>& ids,
                         std::string_view s);

  int dim_ = 0;
  std::vector<int64_t> rid_;
  std::vector<int8_t> vec_;        // size() * dim_, quantised: round(v * 127 / max|v|)
  std::vector<float> inv_scale_;   // max|v| / 127 per row: approx cosine = int dot * this * query's
  std::vector<uint8_t> kind_, stage_;
  std::vector<uint16_t> backend_;  // index into backends_
  std::vector<uint32_t> task_;     // index into tasks_
  std::vector<std::string> backends_, tasks_;
  std::unordered_map<std::string, uint32_t> backend_ids_, task_ids_;
};

}  // namespace evokernel::memory
