// The recall index on its own (memory/recall_index.h): candidates against a brute-force top k
// over random vectors with every filter, incremental appends against a rebuild, refusals.
#include "memory/recall_index.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace evokernel::memory {
namespace {

struct Row {
  int64_t rid;
  ItemKind kind;
  Stage stage;
  std::string backend, task;
  std::vector<float> v;
};

constexpr Stage kStages[] = {Stage::kDraft, Stage::kRefine, Stage::kAny};
const std::vector<std::string> kBackends = {"cpu", "opencl", "cuda"};

std::vector<float> UnitVector(std::mt19937_64& rng, int dim) {
  std::normal_distribution<float> g;
  std::vector<float> v(dim);
  double n = 0;
  for (float& x : v) {
    x = g(rng);
    n += double{x} * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
  return v;
}

// Rows with increasing, gapped row ids (as after deletions) and random filter columns.
std::vector<Row> RandomRows(std::mt19937_64& rng, int n, int dim, int tasks) {
  std::vector<Row> rows;
  int64_t rid = 0;
  for (int i = 0; i < n; ++i) {
    rid += 1 + static_cast<int64_t>(rng() % 3);
    rows.push_back({rid, kAllKinds[rng() % 4], kStages[rng() % 3], kBackends[rng() % kBackends.size()],
                    "level1/task" + std::to_string(rng() % tasks), UnitVector(rng, dim)});
  }
  return rows;
}

void AppendAll(RecallIndex& ix, const std::vector<Row>& rows, size_t from = 0, size_t to = SIZE_MAX) {
  to = std::min(to, rows.size());
  for (size_t i = from; i < to; ++i) {
    const Row& r = rows[i];
    Status st = ix.Append(r.rid, r.kind, r.stage, r.backend, r.task, r.v);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
}

bool Passes(const Row& r, const RecallQuery& q) {
  if (!q.kinds.empty() && std::find(q.kinds.begin(), q.kinds.end(), r.kind) == q.kinds.end()) return false;
  if (q.stage != Stage::kAny && r.stage != q.stage && r.stage != Stage::kAny) return false;
  if (!q.backend.empty() && r.backend != q.backend) return false;
  if (!q.task_id.empty() && r.task != q.task_id) return false;
  return true;
}

double Exact(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
  return s;
}

// Row ids of the k best rows by exact score among `pool` (ties: lower row id first).
std::vector<int64_t> TopK(std::vector<std::pair<double, int64_t>> pool, int k) {
  std::sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<int64_t> out;
  for (size_t i = 0; i < pool.size() && static_cast<int>(i) < k; ++i) out.push_back(pool[i].second);
  return out;
}

RecallQuery RandomQuery(std::mt19937_64& rng, int tasks) {
  RecallQuery q;
  const int ks[] = {1, 4, 12, 40};
  q.k = ks[rng() % 4];
  q.stage = kStages[rng() % 3];
  if (rng() % 2) q.backend = kBackends[rng() % kBackends.size()];
  if (rng() % 3 == 0) q.task_id = "level1/task" + std::to_string(rng() % tasks);
  if (rng() % 2)
    for (ItemKind k : kAllKinds)
      if (rng() % 2) q.kinds.push_back(k);
  return q;
}

RecallFilter FilterOf(const RecallQuery& q) {
  RecallFilter f;
  f.kinds = RecallFilter::KindMask(q.kinds);
  f.stage = q.stage;
  f.backend = q.backend;
  f.task_id = q.task_id;
  return f;
}

class RecallIndexVsBruteForce : public ::testing::TestWithParam<int> {};

TEST_P(RecallIndexVsBruteForce, CandidatesHoldTheExactTopKAndPassTheFilters) {
  const int dim = GetParam();  // 64 takes the specialised scan, other sizes the generic one
  const int tasks = 12;
  std::mt19937_64 rng(17 + dim);
  const std::vector<Row> rows = RandomRows(rng, 4000, dim, tasks);
  RecallIndex ix(dim);
  ix.Reserve(rows.size());
  AppendAll(ix, rows);
  ASSERT_EQ(ix.size(), rows.size());
  ASSERT_EQ(ix.last_rid(), rows.back().rid);
  std::unordered_map<int64_t, const Row*> by_rid;
  for (const Row& r : rows) by_rid[r.rid] = &r;

  int nonempty = 0;
  for (int iter = 0; iter < 200; ++iter) {
    const RecallQuery q = RandomQuery(rng, tasks);
    const std::vector<float> query = UnitVector(rng, dim);
    std::vector<std::pair<double, int64_t>> passing;
    for (const Row& r : rows)
      if (Passes(r, q)) passing.push_back({Exact(query, r.v), r.rid});
    const auto cands = ix.Candidates(query, FilterOf(q), q.k);
    const size_t want = std::min(passing.size(), static_cast<size_t>(std::max(2 * q.k, q.k + 16)));
    SCOPED_TRACE("iteration " + std::to_string(iter) + ", k " + std::to_string(q.k));
    ASSERT_EQ(cands.size(), want);
    if (!cands.empty()) ++nonempty;

    std::vector<std::pair<double, int64_t>> rescored;
    for (size_t i = 0; i < cands.size(); ++i) {
      const RecallCandidate& c = cands[i];
      ASSERT_TRUE(by_rid.count(c.rid));
      const Row& r = *by_rid[c.rid];
      EXPECT_TRUE(Passes(r, q)) << "row " << c.rid;
      const double exact = Exact(query, r.v);
      EXPECT_NEAR(c.approx, exact, 0.02) << "row " << c.rid;
      if (i > 0) {  // best first, ties by row id
        const RecallCandidate& p = cands[i - 1];
        EXPECT_TRUE(p.approx > c.approx || (p.approx == c.approx && p.rid < c.rid)) << i;
      }
      rescored.push_back({exact, c.rid});
    }
    // What the store does: rescore the candidates exactly and keep k. That is the true top k.
    EXPECT_EQ(TopK(rescored, q.k), TopK(passing, q.k));
  }
  EXPECT_GT(nonempty, 150);
}

INSTANTIATE_TEST_SUITE_P(Dims, RecallIndexVsBruteForce, ::testing::Values(64, 24));

TEST(RecallIndex, IncrementalAppendsEqualARebuild) {
  const int dim = 64, tasks = 8;
  std::mt19937_64 rng(5);
  const std::vector<Row> rows = RandomRows(rng, 2500, dim, tasks);
  std::vector<std::pair<RecallQuery, std::vector<float>>> queries;
  for (int i = 0; i < 40; ++i) queries.push_back({RandomQuery(rng, tasks), UnitVector(rng, dim)});
  auto same = [&](const RecallIndex& a, const RecallIndex& b) {
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.last_rid(), b.last_rid());
    for (const auto& [q, v] : queries) {
      auto ca = a.Candidates(v, FilterOf(q), q.k), cb = b.Candidates(v, FilterOf(q), q.k);
      ASSERT_EQ(ca.size(), cb.size());
      for (size_t i = 0; i < ca.size(); ++i) {
        EXPECT_EQ(ca[i].rid, cb[i].rid);
        EXPECT_EQ(ca[i].approx, cb[i].approx);
      }
    }
  };

  // Grown in uneven batches (new backends and tasks appear along the way), queried in between,
  // and compared after each batch with an index rebuilt from the same prefix.
  RecallIndex grown(dim);
  size_t at = 0;
  for (size_t batch : {1, 7, 300, 1, 1000, 91, 1100}) {
    AppendAll(grown, rows, at, at + batch);
    at = std::min(rows.size(), at + batch);
    RecallIndex rebuilt(dim);
    rebuilt.Reserve(at);
    AppendAll(rebuilt, rows, 0, at);
    same(grown, rebuilt);
  }
  ASSERT_EQ(at, rows.size());

  // Cleared and loaded again: the same as before.
  RecallIndex reloaded(dim);
  AppendAll(reloaded, rows);
  reloaded.Clear(dim);
  EXPECT_TRUE(reloaded.empty());
  EXPECT_EQ(reloaded.last_rid(), 0);
  AppendAll(reloaded, rows);
  same(grown, reloaded);
}

TEST(RecallIndex, RefusesRowsItCannotHoldAndUnknownFilterValues) {
  RecallIndex ix(4);
  const std::vector<float> v = {1, 0, 0, 0}, w = {0, 1, 0, 0};
  ASSERT_TRUE(ix.Append(10, ItemKind::kTrace, Stage::kDraft, "cpu", "t1", v).ok());
  Status again = ix.Append(10, ItemKind::kTrace, Stage::kDraft, "cpu", "t1", w);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(again.message(), "row 10 is not above the last indexed row 10");
  Status short_vec = ix.Append(11, ItemKind::kTrace, Stage::kDraft, "cpu", "t1", std::vector<float>{1, 0});
  EXPECT_EQ(short_vec.message(), "row 11 has 2 dimensions, the index 4");
  EXPECT_EQ(ix.size(), 1u);

  ASSERT_TRUE(ix.Append(12, ItemKind::kSummary, Stage::kAny, "opencl", "", w).ok());
  auto all = ix.Candidates(v, RecallFilter(), 1);
  ASSERT_EQ(all.size(), 2u);  // max(2k, k + 16) > rows: every row
  EXPECT_EQ(all[0].rid, 10);
  EXPECT_NEAR(all[0].approx, 1.0, 1e-6);
  EXPECT_EQ(all[1].rid, 12);
  EXPECT_EQ(all[1].approx, 0);

  RecallFilter f;
  f.backend = "cuda";  // no row has it
  EXPECT_TRUE(ix.Candidates(v, f, 5).empty());
  f = RecallFilter();
  f.task_id = "t2";
  EXPECT_TRUE(ix.Candidates(v, f, 5).empty());
  f = RecallFilter();
  f.kinds = RecallFilter::KindMask({ItemKind::kSummary});
  f.stage = Stage::kRefine;  // an `any` row is seen by a refine query
  auto summaries = ix.Candidates(v, f, 5);
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].rid, 12);
  f.stage = Stage::kDraft;
  f.kinds = RecallFilter::KindMask({ItemKind::kTrace});
  EXPECT_EQ(ix.Candidates(v, f, 5).size(), 1u);
  f.stage = Stage::kRefine;  // a draft row is not
  EXPECT_TRUE(ix.Candidates(v, f, 5).empty());
  EXPECT_TRUE(ix.Candidates(v, RecallFilter(), 0).empty());
  EXPECT_TRUE(ix.Candidates(std::vector<float>{1, 0}, RecallFilter(), 5).empty());  // wrong dimension
  EXPECT_EQ(RecallFilter::KindMask({}), ~0u);
}

TEST(RecallIndex, HoldsAtMost65535Backends) {
  RecallIndex ix(1);
  const std::vector<float> v = {1};
  for (int64_t i = 1; i <= 65535; ++i)
    ASSERT_TRUE(ix.Append(i, ItemKind::kTrace, Stage::kAny, "b" + std::to_string(i), "", v).ok()) << i;
  ASSERT_TRUE(ix.Append(65536, ItemKind::kTrace, Stage::kAny, "b7", "", v).ok());  // a known one
  Status full = ix.Append(65537, ItemKind::kTrace, Stage::kAny, "new", "", v);
  EXPECT_EQ(full.message(), "more than 65535 backends");
  EXPECT_EQ(ix.size(), 65536u);
  RecallFilter f;
  f.backend = "b65535";
  auto c = ix.Candidates(v, f, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rid, 65535);
}

}  // namespace
}  // namespace evokernel::memory
