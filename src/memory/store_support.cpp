#include "memory/store_support.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_set>

#include <fmt/format.h>

namespace evokernel::memory {

bool ValidText(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\0'; });
}

std::string NewItemId(std::mt19937_64& rng) {
  static const char* kHex = "0123456789abcdef";
  uint64_t x = rng();
  std::string id = "m-";
  for (int i = 0; i < 16; ++i) id += kHex[(x >> (60 - 4 * i)) & 15];
  return id;
}

std::mt19937_64 SeededIdGenerator() {
  std::random_device rd;
  std::mt19937_64 rng;
  rng.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return rng;
}

Status ValidateAndStampItems(std::vector<MemoryItem>& items, const std::string& where, int64_t now,
                             std::mt19937_64& rng) {
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < items.size(); ++i) {
    MemoryItem& m = items[i];
    auto bad = [&](const std::string& what) {
      return InvalidArgument(fmt::format("{}: item {}{}: {}", where, i, m.id.empty() ? "" : " (" + m.id + ")", what));
    };
    if (m.backend.empty()) return bad("backend is empty");
    if (m.signature.backend.empty()) m.signature.backend = m.backend;
    for (double x : {m.reward, m.q_draft, m.q_refine})
      if (!std::isfinite(x)) return bad("reward and values must be finite");
    if (m.latency_ms && !(std::isfinite(*m.latency_ms) && *m.latency_ms >= 0))
      return bad("latency_ms must be finite and >= 0");
    if (m.visits_draft < 0 || m.visits_refine < 0) return bad("visit counts must be >= 0");
    for (const StateValue& v : m.state_values) {
      if (v.stage == Stage::kAny) return bad("a state value's stage must be draft or refine");
      if (v.state.empty() || v.state.size() > 256 || !ValidText(v.state))
        return bad("a state value's state must be 1 to 256 bytes without NUL");
      if (!std::isfinite(v.q) || v.visits < 0) return bad("state values must be finite with visits >= 0");
    }
    if (m.signature.num_inputs > m.signature.shapes.size()) return bad("signature.num_inputs exceeds the shapes");
    for (const std::string* s : {&m.id, &m.title, &m.content, &m.outcome, &m.feedback, &m.parent_id, &m.model,
                                 &m.run_id, &m.backend})
      if (!ValidText(*s)) return bad("text fields must not contain NUL bytes");
    if (m.id.empty()) m.id = NewItemId(rng);
    if (m.id.size() > 256) return bad("id is longer than 256 bytes");
    if (!ids.insert(m.id).second) return bad("id appears twice in the batch");
    if (m.created_at == 0) m.created_at = now;
    if (m.updated_at == 0) m.updated_at = m.created_at;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> EmbedItems(const Embedder& embedder, int dim, const std::vector<MemoryItem>& items) {
  std::vector<std::string> texts;
  texts.reserve(items.size());
  for (const auto& m : items) texts.push_back(EmbeddingText(m));
  std::vector<EmbedRequest> reqs;
  reqs.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) reqs.push_back({&items[i].signature, texts[i]});
  EVK_ASSIGN_OR_RETURN(auto vecs, embedder.EmbedBatch(reqs));
  if (vecs.size() != items.size()) return Internal("embedder returned the wrong number of vectors");
  std::vector<std::string> blobs;
  blobs.reserve(vecs.size());
  for (const auto& v : vecs) {
    if (static_cast<int>(v.size()) != dim)
      return Internal(
          fmt::format("embedder '{}' returned {} dimensions, the bank has {}", embedder.name(), v.size(), dim));
    blobs.emplace_back(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  return blobs;
}

Status ValidateUpdates(const std::vector<ValueUpdate>& updates, const std::string& where) {
  for (const auto& u : updates) {
    if (u.stage == Stage::kAny)
      return InvalidArgument(where + ": value update of item '" + u.id + "' names stage 'any'; use draft or refine");
    if (!std::isfinite(u.reward))
      return InvalidArgument(where + ": value update of item '" + u.id + "' has a non-finite reward");
    if (!(u.alpha > 0 && u.alpha <= 1))
      return InvalidArgument(
          fmt::format("{}: value update of item '{}' has alpha {} outside (0, 1]", where, u.id, u.alpha));
    if (u.state.size() > 256 || !ValidText(u.state))
      return InvalidArgument(where + ": value update of item '" + u.id +
                             "' names a state longer than 256 bytes or with NUL");
  }
  return Status::Ok();
}

QSummary SummariseValues(std::vector<double> v) {
  QSummary q;
  q.visited = static_cast<int64_t>(v.size());
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    double pos = p * static_cast<double>(v.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
  };
  q.min = v.front();
  q.max = v.back();
  q.p25 = at(0.25);
  q.median = at(0.5);
  q.p75 = at(0.75);
  double sum = 0;
  for (double x : v) sum += x;
  q.mean = sum / static_cast<double>(v.size());
  return q;
}

Result<std::shared_ptr<const Embedder>> ResolveBankEmbedder(const StoreOptions& options,
                                                            const std::string& bank_embedder, int bank_dim,
                                                            const std::string& where) {
  if (options.embedder) {
    if (options.embedder->name() != bank_embedder || options.embedder->dim() != bank_dim)
      return InvalidArgument(fmt::format(
          "{} was built with embedder '{}' ({} dimensions) but this run uses '{}' ({} dimensions); "
          "vectors of different embedders cannot be compared. Use the bank's embedder, or "
          "re-embed: evokernel memory export -o items.jsonl, then import items.jsonl into a new bank "
          "with the new embedder",
          where, bank_embedder, bank_dim, options.embedder->name(), options.embedder->dim()));
    return options.embedder;
  }
  std::shared_ptr<const Embedder> builtin = MakeStructuralEmbedder();
  if (bank_embedder == builtin->name() && bank_dim == builtin->dim()) return builtin;
  return std::shared_ptr<const Embedder>();
}

Status RequireEmbedder(const Embedder* embedder, std::string_view what, const std::string& bank_embedder,
                       int bank_dim, const std::string& where) {
  if (embedder) return Status::Ok();
  return InvalidArgument(fmt::format(
      "{}: {} needs the bank's embedder '{}' ({} dimensions), which this evokernel was not "
      "configured with; configure that embedder (see docs/memory.md)",
      where, what, bank_embedder, bank_dim));
}

Result<RecallPlan> PlanRecall(const RecallQuery& q, const Embedder& embedder, int bank_dim, const std::string& where) {
  if (q.k < 1 || q.k > 1000000)
    return InvalidArgument(where + ": recall pool size k must be in [1, 1000000], got " + std::to_string(q.k));
  TaskSignature sig = q.signature;
  if (sig.backend.empty()) sig.backend = q.backend;
  RecallPlan plan;
  EVK_ASSIGN_OR_RETURN(plan.vector, embedder.Embed(sig, q.text));
  if (static_cast<int>(plan.vector.size()) != bank_dim)
    return Internal(fmt::format("embedder returned {} dimensions, the bank has {}", plan.vector.size(), bank_dim));
  plan.filter.kinds = RecallFilter::KindMask(q.kinds);
  plan.filter.stage = q.stage;
  plan.filter.backend = q.backend;
  plan.filter.task_id = q.task_id;
  return plan;
}

Status ValidatePruneOptions(const PruneOptions& o) {
  if (!o.older_than_ms && !o.q_below && !o.keep_per_task)
    return InvalidArgument("prune: give at least one of older-than, q-below or keep-per-task");
  if (o.keep_per_task && *o.keep_per_task < 0) return InvalidArgument("prune: keep-per-task must be >= 0");
  if (o.q_stage == Stage::kAny && (o.q_below || o.keep_per_task))
    return InvalidArgument("prune: the Q stage must be draft or refine");
  return Status::Ok();
}

}  // namespace evokernel::memory
