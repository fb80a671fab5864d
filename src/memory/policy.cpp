#include "memory/policy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "memory/signature.h"

namespace evokernel::memory {
namespace {

// Uniform in [0, 1) from the top 53 bits.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform in [0, n) without modulo bias. n > 0.
size_t UniformIndex(std::mt19937_64& rng, size_t n) {
  const uint64_t range = static_cast<uint64_t>(n);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return static_cast<size_t>(x % range);
}

double Latency(const MemoryItem& m) {
  return m.latency_ms ? *m.latency_ms : std::numeric_limits<double>::infinity();
}

size_t BestLatency(const std::vector<MemoryItem>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (Latency(v[i]) < Latency(v[best])) best = i;
  return best;
}

}  // namespace

std::string_view RetrievalPolicyName(RetrievalPolicy p) {
  switch (p) {
    case RetrievalPolicy::kValue: return "value";
    case RetrievalPolicy::kSimilarity: return "similarity";
    case RetrievalPolicy::kRandom: return "random";
    case RetrievalPolicy::kNone: return "none";
  }
  return "unknown";
}

Result<RetrievalPolicy> ParseRetrievalPolicy(std::string_view name) {
  for (auto p : {RetrievalPolicy::kValue, RetrievalPolicy::kSimilarity, RetrievalPolicy::kRandom,
                 RetrievalPolicy::kNone})
    if (RetrievalPolicyName(p) == name) return p;
  return InvalidArgument("unknown retrieval policy '" + std::string(name) +
                         "' (expected value, similarity, random or none)");
}

double StageValue(const MemoryItem& m, Stage stage) {
  switch (stage) {
    case Stage::kDraft: return m.q_draft;
    case Stage::kRefine: return m.q_refine;
    case Stage::kAny: return 0.5 * (m.q_draft + m.q_refine);
  }
  return 0;
}

std::vector<ScoredItem> SelectContext(std::vector<ScoredItem> pool, Stage stage, RetrievalPolicy policy,
                                      const MemoryConfig& config, std::mt19937_64& rng, std::string_view state) {
  std::vector<ScoredItem> out;
  const size_t n = std::min(pool.size(), static_cast<size_t>(std::max(config.n, 0)));
  switch (policy) {
    case RetrievalPolicy::kNone:
      return out;
    case RetrievalPolicy::kSimilarity: {
      std::stable_sort(pool.begin(), pool.end(),
                       [](const ScoredItem& a, const ScoredItem& b) { return a.similarity > b.similarity; });
      pool.resize(n);
      return pool;
    }
    case RetrievalPolicy::kRandom: {
      // Partial Fisher-Yates: the first n positions become a uniform sample.
      for (size_t i = 0; i < n; ++i) std::swap(pool[i], pool[i + UniformIndex(rng, pool.size() - i)]);
      pool.resize(n);
      return pool;
    }
    case RetrievalPolicy::kValue: {
      std::vector<size_t> remaining(pool.size());
      for (size_t i = 0; i < remaining.size(); ++i) remaining[i] = i;
      std::vector<double> value(pool.size());
      for (size_t i = 0; i < pool.size(); ++i) value[i] = ScopedValue(pool[i].item, stage, state, config);
      for (size_t slot = 0; slot < n; ++slot) {
        size_t pick;
        if (Uniform01(rng) < config.epsilon) {
          pick = UniformIndex(rng, remaining.size());
        } else {
          pick = 0;
          for (size_t r = 1; r < remaining.size(); ++r) {
            const ScoredItem& a = pool[remaining[r]];
            const ScoredItem& b = pool[remaining[pick]];
            double qa = value[remaining[r]], qb = value[remaining[pick]];
            if (qa > qb || (qa == qb && a.similarity > b.similarity)) pick = r;
          }
        }
        out.push_back(std::move(pool[remaining[pick]]));
        remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(pick));
      }
      return out;
    }
  }
  return out;
}

std::optional<size_t> ChooseStartPoint(const std::vector<MemoryItem>& v, RetrievalPolicy policy,
                                       const MemoryConfig& config, std::mt19937_64& rng, std::string_view state) {
  if (v.empty()) return std::nullopt;
  switch (policy) {
    case RetrievalPolicy::kValue: {
      if (Uniform01(rng) < config.epsilon) return UniformIndex(rng, v.size());
      auto q = [&](size_t i) { return ScopedValue(v[i], Stage::kRefine, state, config); };
      size_t best = 0;
      double best_q = q(0);
      for (size_t i = 1; i < v.size(); ++i) {
        const double qi = q(i);
        if (qi > best_q || (qi == best_q && Latency(v[i]) < Latency(v[best]))) {
          best = i;
          best_q = qi;
        }
      }
      return best;
    }
    case RetrievalPolicy::kRandom:
      return UniformIndex(rng, v.size());
    case RetrievalPolicy::kSimilarity:
    case RetrievalPolicy::kNone:
      return BestLatency(v);
  }
  return std::nullopt;
}

std::vector<MemoryItem> KnowledgeLookup(const std::vector<MemoryItem>& knowledge, const TaskSignature& task,
                                        Stage stage, int max_items) {
  std::set<std::string> exact, families;
  for (const auto& raw : task.ops) {
    std::string op = NormaliseOpName(raw);
    if (op.empty()) continue;
    exact.insert(op);
    families.insert(OpFamily(op));
  }
  std::set<std::string> task_categories;
  for (const auto& c : task.Categories()) task_categories.insert(c);

  struct Ranked {
    int points;
    bool category;
    size_t listed;
    const MemoryItem* item;
  };
  std::vector<Ranked> ranked;
  for (const auto& k : knowledge) {
    if (k.kind != ItemKind::kKnowledge) continue;
    if (stage != Stage::kAny && k.stage != Stage::kAny && k.stage != stage) continue;
    int points = 0;
    for (const auto& raw : k.signature.ops) {
      std::string op = NormaliseOpName(raw);
      if (op.empty()) continue;
      if (exact.count(op))
        points += 2;
      else if (families.count(op) || families.count(OpFamily(op)))
        points += 1;
    }
    bool category = false;
    for (const auto& c : k.signature.Categories()) category = category || task_categories.count(c) > 0;
    bool general = k.signature.ops.empty() && k.signature.Categories().empty();
    if (points == 0 && !category && !general) continue;
    ranked.push_back({points, category, k.signature.ops.size(), &k});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.points != b.points) return a.points > b.points;
    if (a.category != b.category) return a.category;
    if (a.listed != b.listed) return a.listed < b.listed;
    return a.item->id < b.item->id;
  });
  std::vector<MemoryItem> out;
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < max_items; ++i) out.push_back(*ranked[i].item);
  return out;
}

Result<std::vector<MemoryItem>> KnowledgeLookup(MemoryStore& store, const TaskSignature& task,
                                                std::string_view backend, Stage stage, int max_items) {
  if (max_items <= 0) return std::vector<MemoryItem>();
  ListFilter f;
  f.kind = ItemKind::kKnowledge;
  f.backend = std::string(backend);
  f.order = ListOrder::kOldest;
  EVK_ASSIGN_OR_RETURN(auto all, store.List(f));
  return KnowledgeLookup(all, task, stage, max_items);
}

Result<std::optional<MemoryItem>> ChooseStartPoint(MemoryStore& store, std::string_view task_id,
                                                   std::string_view backend, RetrievalPolicy policy,
                                                   const MemoryConfig& config, std::mt19937_64& rng,
                                                   std::string_view state) {
  ListFilter f;
  f.kind = ItemKind::kTrace;
  f.task_id = std::string(task_id);
  f.backend = std::string(backend);
  f.outcome = "feasible";
  f.order = ListOrder::kOldest;
  EVK_ASSIGN_OR_RETURN(auto variants, store.List(f));
  auto pick = ChooseStartPoint(variants, policy, config, rng, state);
  if (!pick) return std::optional<MemoryItem>();
  return std::optional<MemoryItem>(std::move(variants[*pick]));
}

std::vector<std::string> RetrievedContext::ids() const {
  std::vector<std::string> out;
  for (const auto& k : knowledge) out.push_back(k.id);
  for (const auto& e : experience) out.push_back(e.item.id);
  return out;
}

Result<RetrievedContext> RetrieveContext(MemoryStore& store, const TaskSignature& task, std::string_view backend,
                                         Stage stage, RetrievalPolicy policy, const MemoryConfig& config,
                                         std::mt19937_64& rng, const MemoryItem* start_point) {
  EVK_RETURN_IF_ERROR(config.Validate());
  RetrievedContext ctx;
  if (policy == RetrievalPolicy::kNone) return ctx;
  EVK_ASSIGN_OR_RETURN(ctx.knowledge, KnowledgeLookup(store, task, backend, stage, config.knowledge_slots));

  RecallQuery q;
  q.signature = task;
  q.stage = stage;
  q.backend = std::string(backend);
  q.k = config.pool_size();
  q.kinds = {ItemKind::kSummary, ItemKind::kTrace, ItemKind::kBestPractice};
  EVK_ASSIGN_OR_RETURN(std::vector<ScoredItem> pool, store.Recall(q));
  if (start_point) {
    std::erase_if(pool, [&](const ScoredItem& s) { return s.item.id == start_point->id; });
    ListFilter f;
    f.parent_id = start_point->id;
    f.backend = std::string(backend);
    f.order = ListOrder::kNewest;
    f.limit = config.pool_size();
    EVK_ASSIGN_OR_RETURN(auto children, store.List(f));
    std::set<std::string> present;
    for (const auto& s : pool) present.insert(s.item.id);
    // Children are the variants refined from the start point: refining traces. A summary's
    // parent is the trace it summarises, so a draft's summary would otherwise come along as
    // a "child" of the draft it describes.
    for (auto& c : children)
      if (!present.count(c.id) && c.kind == ItemKind::kTrace && c.stage == Stage::kRefine)
        pool.push_back({std::move(c), 1.0});
  }
  ctx.pool_size = pool.size();
  ctx.experience = SelectContext(std::move(pool), stage, policy, config, rng, StateOf(task));
  return ctx;
}

}  // namespace evokernel::memory
