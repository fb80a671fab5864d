// Unit tests of the experience memory: maths (updates, rewards, PopArt, epsilon-greedy), the
// similarity function, items and their JSON, the SQLite store (recall, persistence, values,
// list, stats, prune, export/import, schema, foreign files), seed notes and the HTTP embedder.
// Tests that need several processes live in memory_process_test.cpp.
#include <sqlite3.h>

#include <mutex>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "memory/memory.h"
#include "memory/policy.h"
#include "memory/postgres_store.h"
#include "memory/seed.h"
#include "memory/signature.h"
#include "memory/sqlite_schema.h"
#include "memory/values.h"
#include "memory_test_util.h"
#include "test_util.h"

namespace evokernel::memory {
namespace {

namespace fs = std::filesystem;
using testing::FullItem;
using testing::Item;
using testing::Sig;
using testing::TempBank;
using testing::PgTestCluster;

// The store-contract tests run one body against both stores ("sqlite" and "postgres"; the
// PostgreSQL runs skip, saying why, where no test server can run).
class Store : public testing::BothStores {};
class ExportImport : public testing::BothStores {};
class ValueScopeStore : public testing::BothStores {};
std::string StoreName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Stores, Store, ::testing::Values("sqlite", "postgres"), StoreName);
INSTANTIATE_TEST_SUITE_P(Stores, ExportImport, ::testing::Values("sqlite", "postgres"), StoreName);
INSTANTIATE_TEST_SUITE_P(Stores, ValueScopeStore, ::testing::Values("sqlite", "postgres"), StoreName);

std::string Slurp(const fs::path& p) { return ReadFile(p).ok() ? *ReadFile(p) : std::string(); }

void Write(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// ------------------------------------------------------------------------------- values

TEST(Values, UpdateIsExact) {
  EXPECT_DOUBLE_EQ(UpdatedQ(0.0, 1.0, 0.2), 0.2);
  EXPECT_DOUBLE_EQ(UpdatedQ(0.2, 1.0, 0.2), 0.36);
  EXPECT_DOUBLE_EQ(UpdatedQ(0.5, -1.0, 0.5), -0.25);
  EXPECT_DOUBLE_EQ(UpdatedQ(-0.3, -0.3, 0.7), -0.3);
}

TEST(Values, RewardsAreExact) {
  EXPECT_EQ(DraftReward(true), 1.0);
  EXPECT_EQ(DraftReward(false), -1.0);
  // tanh(log 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
  EXPECT_NEAR(RefineReward(true, 2.0, 1.0), 0.6, 1e-15);
  EXPECT_NEAR(RefineReward(true, 1.0, 2.0), -0.6, 1e-15);
  EXPECT_EQ(RefineReward(true, 3.0, 3.0), 0.0);
  EXPECT_EQ(RefineReward(false, 2.0, 1.0), -1.0);
  EXPECT_EQ(RefineReward(true, 2.0, 0.0), 0.0);  // a broken measurement gives no information
  EXPECT_EQ(RefineReward(true, -1.0, 1.0), 0.0);
}

TEST(Values, PopArtNormalisesAKnownSequence) {
  // beta = 0.25: steps 1, 1/2, 1/3 (warm-up), then 0.25, 0.25.
  PopArt p(0.25, 0.01);
  EXPECT_DOUBLE_EQ(p.Normalise(1), 0.0);  // its own mean; sigma at the floor
  EXPECT_DOUBLE_EQ(p.sigma(), 0.01);
  EXPECT_DOUBLE_EQ(p.Normalise(0), -1.0);  // mean 1/2, variance 1/4
  EXPECT_NEAR(p.Normalise(1), 1 / std::sqrt(2.0), 1e-12);  // mean 2/3, variance 2/9
  EXPECT_NEAR(p.Normalise(0), -1.0, 1e-12);  // mean 1/2, variance 1/4
  EXPECT_NEAR(p.Normalise(1), std::sqrt(0.6), 1e-12);  // mean 5/8, variance 15/64
  EXPECT_EQ(p.state().count, 5);
  EXPECT_NEAR(p.state().mean, 0.625, 1e-12);
  EXPECT_NEAR(p.state().mean_sq, 0.625, 1e-12);
}

TEST(Values, PopArtConstantRewardsStayAtZero) {
  PopArt p(0.02, 0.01);
  for (int i = 0; i < 100; ++i) EXPECT_NEAR(p.Normalise(-1), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(p.sigma(), 0.01);
}

TEST(Values, ConfigDefaultsAndValidation) {
  MemoryConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.pool_size(), 12);
  EXPECT_EQ(c.alpha, 0.2);
  EXPECT_EQ(c.epsilon, 0.1);
  EXPECT_EQ(c.n, 4);
  EXPECT_EQ(c.lambda, 3);
  EXPECT_EQ(c.initial_q, 0.0);
  c.alpha = 0;
  EXPECT_NE(c.Validate().message().find("alpha"), std::string::npos);
  c = MemoryConfig();
  c.epsilon = 1.5;
  EXPECT_NE(c.Validate().message().find("epsilon"), std::string::npos);
  c = MemoryConfig();
  c.lambda = 0;
  EXPECT_NE(c.Validate().message().find("lambda"), std::string::npos);
  MemoryItem m;
  c = MemoryConfig();
  c.initial_q = 0.25;
  InitValues(m, c);
  EXPECT_EQ(m.q_draft, 0.25);
  EXPECT_EQ(m.q_refine, 0.25);
  auto ups = ContextUpdates({"a", "b"}, Stage::kRefine, 0.5, c);
  ASSERT_EQ(ups.size(), 2u);
  EXPECT_EQ(ups[1].id, "b");
  EXPECT_EQ(ups[1].stage, Stage::kRefine);
  EXPECT_EQ(ups[1].alpha, 0.2);
}

// ------------------------------------------------------------------------------- policies

std::vector<ScoredItem> Pool(size_t n) {
  std::vector<ScoredItem> pool;
  for (size_t i = 0; i < n; ++i) {
    ScoredItem s;
    s.item.id = fmt::format("i{}", i);
    s.item.q_draft = static_cast<double>(i) / 10.0;          // i9 best for drafting
    s.item.q_refine = static_cast<double>(n - i) / 10.0;     // i0 best for refining
    s.similarity = 1.0 - static_cast<double>(i % 5) / 10.0;  // i0, i5 most similar
    pool.push_back(s);
  }
  return pool;
}

std::vector<std::string> Ids(const std::vector<ScoredItem>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.item.id);
  return out;
}

TEST(Policy, ParsesNames) {
  EXPECT_EQ(*ParseRetrievalPolicy("value"), RetrievalPolicy::kValue);
  EXPECT_EQ(*ParseRetrievalPolicy("similarity"), RetrievalPolicy::kSimilarity);
  EXPECT_EQ(*ParseRetrievalPolicy("random"), RetrievalPolicy::kRandom);
  EXPECT_EQ(*ParseRetrievalPolicy("none"), RetrievalPolicy::kNone);
  EXPECT_FALSE(ParseRetrievalPolicy("greedy").ok());
  EXPECT_EQ(RetrievalPolicyName(RetrievalPolicy::kSimilarity), "similarity");
}

TEST(Policy, ValueWithEpsilonZeroPicksTopQOfTheStage) {
  MemoryConfig c;
  c.epsilon = 0;
  std::mt19937_64 rng(7);
  EXPECT_EQ(Ids(SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kValue, c, rng)),
            (std::vector<std::string>{"i9", "i8", "i7", "i6"}));
  EXPECT_EQ(Ids(SelectContext(Pool(10), Stage::kRefine, RetrievalPolicy::kValue, c, rng)),
            (std::vector<std::string>{"i0", "i1", "i2", "i3"}));
}

TEST(Policy, ValueTiesAreBrokenBySimilarity) {
  MemoryConfig c;
  c.epsilon = 0;
  c.n = 2;
  auto pool = Pool(6);
  for (auto& s : pool) s.item.q_draft = 0.5;  // all tied
  std::mt19937_64 rng(1);
  EXPECT_EQ(Ids(SelectContext(pool, Stage::kDraft, RetrievalPolicy::kValue, c, rng)),
            (std::vector<std::string>{"i0", "i5"}));
}

TEST(Policy, ValueWithEpsilonOneIsUniform) {
  MemoryConfig c;
  c.epsilon = 1;
  c.n = 1;
  std::mt19937_64 rng(12345);
  std::map<std::string, int> counts;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) ++counts[SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kValue, c, rng)[0].item.id];
  ASSERT_EQ(counts.size(), 10u);
  double chi2 = 0;
  for (const auto& [id, n] : counts) chi2 += (n - kDraws / 10.0) * (n - kDraws / 10.0) / (kDraws / 10.0);
  EXPECT_LT(chi2, 27.88) << "chi-square with 9 degrees of freedom above its 0.1% critical value";
}

TEST(Policy, ValueExploresAtRateEpsilon) {
  MemoryConfig c;
  c.epsilon = 0.1;
  c.n = 1;
  std::mt19937_64 rng(99);
  int top = 0;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i)
    top += SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kValue, c, rng)[0].item.id == "i9";
  // P(top) = 0.9 + 0.1 / 10; standard error 0.002.
  EXPECT_NEAR(top / double(kDraws), 0.91, 0.01);
}

TEST(Policy, ValueNeverRepeatsAnItem) {
  MemoryConfig c;
  c.epsilon = 0.5;
  c.n = 10;
  std::mt19937_64 rng(3);
  auto chosen = Ids(SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kValue, c, rng));
  EXPECT_EQ(std::set<std::string>(chosen.begin(), chosen.end()).size(), 10u);
}

TEST(Policy, SimilarityRandomAndNone) {
  MemoryConfig c;
  std::mt19937_64 rng(5);
  EXPECT_EQ(Ids(SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kSimilarity, c, rng)),
            (std::vector<std::string>{"i0", "i5", "i1", "i6"}));
  EXPECT_TRUE(SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kNone, c, rng).empty());
  EXPECT_EQ(SelectContext(Pool(2), Stage::kDraft, RetrievalPolicy::kValue, c, rng).size(), 2u);

  std::map<std::string, int> counts;
  const int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    auto ids = Ids(SelectContext(Pool(10), Stage::kDraft, RetrievalPolicy::kRandom, c, rng));
    ASSERT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);
    for (const auto& id : ids) ++counts[id];
  }
  // Each item is in a sample of 4 of 10 with probability 0.4; standard error 0.005.
  for (const auto& [id, n] : counts) EXPECT_NEAR(n / double(kDraws), 0.4, 0.025) << id;
}

TEST(Policy, SameSeedSameChoice) {
  MemoryConfig c;
  c.epsilon = 0.5;
  std::mt19937_64 a(42), b(42);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(Ids(SelectContext(Pool(12), Stage::kDraft, RetrievalPolicy::kValue, c, a)),
              Ids(SelectContext(Pool(12), Stage::kDraft, RetrievalPolicy::kValue, c, b)));
}

TEST(Policy, StartPoint) {
  std::vector<MemoryItem> v(4);
  for (int i = 0; i < 4; ++i) v[i].id = fmt::format("v{}", i);
  v[0].q_refine = 0.1;
  v[0].latency_ms = 5;
  v[1].q_refine = 0.7;
  v[1].latency_ms = 9;
  v[2].q_refine = 0.3;
  v[2].latency_ms = 2;
  v[3].q_refine = 0.7;  // tied with v1, no latency
  MemoryConfig c;
  c.epsilon = 0;
  std::mt19937_64 rng(1);
  EXPECT_EQ(ChooseStartPoint(v, RetrievalPolicy::kValue, c, rng), 1u);
  EXPECT_EQ(ChooseStartPoint(v, RetrievalPolicy::kSimilarity, c, rng), 2u);
  EXPECT_EQ(ChooseStartPoint(v, RetrievalPolicy::kNone, c, rng), 2u);
  EXPECT_FALSE(ChooseStartPoint({}, RetrievalPolicy::kValue, c, rng).has_value());
  std::map<size_t, int> counts;
  for (int i = 0; i < 8000; ++i) ++counts[*ChooseStartPoint(v, RetrievalPolicy::kRandom, c, rng)];
  for (const auto& [i, n] : counts) EXPECT_NEAR(n / 8000.0, 0.25, 0.03);
  c.epsilon = 1;
  std::set<size_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(*ChooseStartPoint(v, RetrievalPolicy::kValue, c, rng));
  EXPECT_EQ(seen.size(), 4u);
}

TEST(Policy, KnowledgeLookupByOperatorAndCategory) {
  auto note = [](std::string id, std::vector<std::string> ops, std::string cats, Stage stage = Stage::kAny) {
    MemoryItem m = Item(ItemKind::kKnowledge, stage, Sig(std::move(ops), std::move(cats)));
    m.id = std::move(id);
    return m;
  };
  std::vector<MemoryItem> notes = {
      note("gemm", {"matmul", "bmm", "linear"}, "matmul"),
      note("conv", {"conv"}, "convolution"),
      note("acts", {"relu", "gelu"}, "activation"),
      note("general", {}, ""),
      note("catonly", {}, "matmul,gemm_fusion"),
      note("refine-only", {"matmul"}, "matmul", Stage::kRefine),
  };
  auto ids = [](const std::vector<MemoryItem>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(m.id);
    return out;
  };
  TaskSignature mm = Sig({"matmul"}, "matmul");
  EXPECT_EQ(ids(KnowledgeLookup(notes, mm, Stage::kDraft, 10)),
            (std::vector<std::string>{"gemm", "catonly", "general"}));
  EXPECT_EQ(ids(KnowledgeLookup(notes, mm, Stage::kRefine, 2)), (std::vector<std::string>{"refine-only", "gemm"}));
  // Family match: conv2d reaches the note listing "conv".
  TaskSignature fused = Sig({"conv2d", "relu"}, "conv_fusion");
  EXPECT_EQ(ids(KnowledgeLookup(notes, fused, Stage::kDraft, 2)), (std::vector<std::string>{"acts", "conv"}));
}

// ------------------------------------------------------------------------------- signatures

TEST(Signature, NormalisesOperatorNames) {
  EXPECT_EQ(NormaliseOpName("log_softmax"), "logsoftmax");
  EXPECT_EQ(NormaliseOpName("BatchNorm2d"), "batchnorm2d");
  EXPECT_EQ(NormaliseOpName("ConvTranspose2d"), "convtranspose2d");
  EXPECT_EQ(NormaliseOpName("conv_transpose2d"), "convtranspose2d");
  EXPECT_EQ(NormaliseOpName("randn"), "");
  EXPECT_EQ(NormaliseOpName("Parameter"), "");
  EXPECT_EQ(NormaliseOpName("zeros"), "");
  EXPECT_EQ(OpFamily("conv2d"), "conv");
  EXPECT_EQ(OpFamily("relu"), "relu");
}

TEST(Signature, FromSpec) {
  TaskSpec spec;
  spec.ref.id = "level2/01_conv2d_relu_biasadd";
  spec.ref.category = "conv_fusion";
  spec.ref.level = 2;
  spec.ref.description = "Conv2d, ReLU, bias";
  spec.doc = "A docstring.";
  spec.modules = {"Conv2d"};
  spec.calls = {"Conv2d", "Parameter", "randn", "relu", "conv"};
  TaskArg x{"x", ArgRole::kInput, DType::kFloat32, {8, 16, 64, 64}, "forward argument 0"};
  TaskArg w{"w", ArgRole::kParam, DType::kFloat32, {32, 16, 3, 3}, "conv.weight"};
  TaskArg y{"y", ArgRole::kOutput, DType::kFloat32, {8, 32, 62, 62}, "forward() output 0"};
  spec.args = {x, w, y};
  TaskSignature s = SignatureFromSpec(spec, "cpu");
  EXPECT_EQ(s.task_id, "level2/01_conv2d_relu_biasadd");
  EXPECT_EQ(s.category, "conv_fusion");
  EXPECT_EQ(s.level, 2);
  EXPECT_EQ(s.backend, "cpu");
  EXPECT_EQ(s.ops, (std::vector<std::string>{"conv", "conv2d", "relu"}));
  ASSERT_EQ(s.shapes.size(), 3u);
  EXPECT_EQ(s.num_inputs, 2u);
  EXPECT_EQ(s.shapes[2], (std::vector<int64_t>{8, 32, 62, 62}));
  EXPECT_EQ(s.text, "Conv2d, ReLU, bias\nA docstring.");
  auto back = TaskSignature::FromJson(s.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
}

TEST(Signature, FromJsonNamesTheBadField) {
  nlohmann::json j = Sig({"matmul"}, "matmul").ToJson();
  j["ops"] = nlohmann::json::array({"matmul", 3});
  auto r = TaskSignature::FromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("signature.ops[1]"), std::string::npos) << r.status().message();
  j = Sig({"matmul"}, "matmul").ToJson();
  j["shapes"] = nlohmann::json::array({nlohmann::json::array({4, -1})});
  r = TaskSignature::FromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("signature.shapes[0][1]"), std::string::npos) << r.status().message();
}

TEST(Embedder, StructuralVectorsAreUnitAndDeterministic) {
  auto e = MakeStructuralEmbedder();
  EXPECT_EQ(e->name(), "structural-v1");
  EXPECT_EQ(e->dim(), 64);
  auto a = *e->Embed(Sig({"matmul"}, "matmul", "t", 1), "GEMM");
  auto b = *e->Embed(Sig({"matmul"}, "matmul", "t", 1), "GEMM");
  ASSERT_EQ(a.size(), 64u);
  EXPECT_NEAR(Dot(a, a), 1.0, 1e-5);
  EXPECT_EQ(a, b);
  auto empty = *e->Embed(TaskSignature(), "");
  EXPECT_EQ(Dot(empty, empty), 0.0f);
}

TEST(Embedder, OperatorsDominateSimilarity) {
  auto e = MakeStructuralEmbedder();
  auto v = [&](std::vector<std::string> ops, std::string cat) { return *e->Embed(Sig(std::move(ops), std::move(cat)), ""); };
  auto matmul = v({"matmul"}, "matmul");
  auto bmm = v({"bmm"}, "matmul");
  auto relu = v({"relu"}, "activation");
  auto gelu = v({"gelu"}, "activation");
  auto conv = v({"conv2d"}, "convolution");
  auto conv_relu = v({"conv2d", "relu"}, "conv_fusion");
  EXPECT_GT(Dot(matmul, bmm), Dot(matmul, relu));
  EXPECT_GT(Dot(relu, gelu), Dot(relu, matmul));  // same class
  EXPECT_GT(Dot(conv_relu, conv), Dot(conv_relu, matmul));
  EXPECT_GT(Dot(conv_relu, relu), Dot(conv_relu, matmul));
}

// ------------------------------------------------------------------------------- items

TEST(Item, JsonRoundTrip) {
  MemoryItem m = FullItem();
  auto back = MemoryItem::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), m.ToJson());
  m.latency_ms.reset();
  back = MemoryItem::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->latency_ms.has_value());
}

TEST(Item, FromJsonNamesTheProblem) {
  auto error = [](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = FullItem().ToJson();
    edit(j);
    auto r = MemoryItem::FromJson(j);
    return r.ok() ? std::string("OK") : r.status().message();
  };
  EXPECT_EQ(error([](auto& j) { j.erase("kind"); }), "missing field 'kind'");
  EXPECT_EQ(error([](auto& j) { j["q_draft"] = "high"; }), "field 'q_draft': expected a number, got string");
  EXPECT_NE(error([](auto& j) { j["kind"] = "recipe"; }).find("unknown item kind 'recipe'"), std::string::npos);
  EXPECT_EQ(error([](auto& j) { j["colour"] = 1; }), "unknown field 'colour'");
  EXPECT_NE(error([](auto& j) { j["visits_draft"] = -1; }).find("visits_draft"), std::string::npos);
  EXPECT_NE(error([](auto& j) { j["visits_draft"] = 1.5; }).find("expected an integer"), std::string::npos);
  EXPECT_EQ(error([](auto& j) { j["signature"]["level"] = "one"; }),
            "field 'signature.level': expected an integer, got string");
  EXPECT_EQ(error([](auto& j) { j = nlohmann::json::array(); }), "item: expected a JSON object, got array");
}

// ------------------------------------------------------------------------------- store

TEST_P(Store, InsertAssignsIdsAndTimestamps) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  int64_t before = NowMs();
  auto id = store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "t1")));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_EQ(id->size(), 18u);
  EXPECT_EQ(id->substr(0, 2), "m-");
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef", 2), std::string::npos);
  auto got = store->Get(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_GE(got->created_at, before);
  EXPECT_EQ(got->updated_at, got->created_at);
  EXPECT_EQ(got->signature.task_id, "t1");
  EXPECT_EQ(got->signature.backend, "cpu");

  MemoryItem full = FullItem();
  ASSERT_TRUE(store->Insert(full).ok());
  EXPECT_EQ(store->Get(full.id)->ToJson(), full.ToJson());
  auto dup = store->Insert(full);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("already exists"), std::string::npos);

  MemoryItem fresh = Item(ItemKind::kSummary, Stage::kDraft, Sig({"relu"}, "activation"));
  auto rep = store->InsertMany({full, fresh}, /*skip_existing=*/true);
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->ids.size(), 1u);
  EXPECT_EQ(rep->skipped, 1);
  // Without skip_existing the whole batch fails and nothing is inserted.
  MemoryItem another = Item(ItemKind::kSummary, Stage::kDraft, Sig({"relu"}, "activation"));
  another.id = "m-another";
  EXPECT_FALSE(store->InsertMany({another, full}).ok());
  EXPECT_EQ(store->Get("m-another").status().code(), StatusCode::kNotFound);

  MemoryItem no_backend = Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"));
  no_backend.backend.clear();
  EXPECT_NE(store->Insert(no_backend).status().message().find("backend is empty"), std::string::npos);
  EXPECT_EQ(store->Get("m-nope").status().code(), StatusCode::kNotFound);
}

TEST_P(Store, IdsDoNotCollideAcrossBanks) {
  TempBank a(GetParam()), b(GetParam());
  auto sa = a.Open(), sb = b.Open();
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids.insert(*sa->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))));
    ids.insert(*sb->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))));
  }
  EXPECT_EQ(ids.size(), 400u);
}

TEST_P(Store, ApplyUpdatesIsExactAndAtomic) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  std::string a = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  std::string b = *store->Insert(Item(ItemKind::kSummary, Stage::kDraft, Sig({"relu"}, "activation")));
  ASSERT_TRUE(store->ApplyUpdates({{a, Stage::kDraft, 1.0, 0.2}, {b, Stage::kDraft, -1.0, 0.5}}).ok());
  ASSERT_TRUE(store->ApplyUpdates({{a, Stage::kDraft, 1.0, 0.2}, {a, Stage::kRefine, 0.6, 0.2}}).ok());
  auto ga = *store->Get(a);
  EXPECT_DOUBLE_EQ(ga.q_draft, UpdatedQ(UpdatedQ(0, 1, 0.2), 1, 0.2));
  EXPECT_DOUBLE_EQ(ga.q_draft, 0.36);
  EXPECT_DOUBLE_EQ(ga.q_refine, 0.12);
  EXPECT_EQ(ga.visits_draft, 2);
  EXPECT_EQ(ga.visits_refine, 1);
  auto gb = *store->Get(b);
  EXPECT_DOUBLE_EQ(gb.q_draft, -0.5);
  EXPECT_EQ(gb.q_refine, 0.0);
  EXPECT_EQ(gb.visits_refine, 0);

  // An unknown id fails the whole batch: the update of `a` before it is rolled back.
  Status st = store->ApplyUpdates({{a, Stage::kDraft, 1.0, 0.2}, {"m-missing", Stage::kDraft, 1.0, 0.2}});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("m-missing"), std::string::npos);
  EXPECT_EQ(store->Get(a)->visits_draft, 2);
  EXPECT_DOUBLE_EQ(store->Get(a)->q_draft, 0.36);
  EXPECT_EQ(store->ApplyUpdates({{a, Stage::kAny, 1.0, 0.2}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ApplyUpdates({{a, Stage::kDraft, NAN, 0.2}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ApplyUpdates({{a, Stage::kDraft, 1.0, 1.5}}).code(), StatusCode::kInvalidArgument);
}

TEST_P(Store, CommitIsOneIdempotentTransaction) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  std::string shown = *store->Insert(Item(ItemKind::kSummary, Stage::kDraft, Sig({"relu"}, "activation")));
  auto step = [&] {
    MemoryItem trace = Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "t"));
    trace.id = "m-run1-step7";
    MemoryItem summary = Item(ItemKind::kSummary, Stage::kDraft, Sig({"relu"}, "activation", "t"));
    return std::vector<MemoryItem>{trace, summary};
  };
  auto first = store->Commit(step(), {{shown, Stage::kDraft, 1.0, 0.2}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*first);
  // Redoing the step (after a crash) changes nothing.
  auto again = store->Commit(step(), {{shown, Stage::kDraft, 1.0, 0.2}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(store->Get(shown)->visits_draft, 1);
  EXPECT_DOUBLE_EQ(store->Get(shown)->q_draft, 0.2);
  EXPECT_EQ(store->Stats()->items, 3);
  // A failing update rolls the inserts back too.
  auto bad = step();
  bad[0].id = "m-run1-step8";
  EXPECT_EQ(store->Commit(bad, {{"m-missing", Stage::kDraft, 1.0, 0.2}}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Get("m-run1-step8").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Stats()->items, 3);
  auto no_id = step();
  no_id[0].id.clear();
  EXPECT_EQ(store->Commit(no_id, {}).status().code(), StatusCode::kInvalidArgument);
}

// Items of several operator families; returns id -> first op.
std::map<std::string, std::string> FillMixedBank(MemoryStore& store) {
  std::map<std::string, std::string> ops_of;
  struct Spec {
    std::vector<std::string> ops;
    std::string cat;
  };
  std::vector<Spec> specs = {{{"matmul"}, "matmul"},      {{"matmul"}, "matmul"},        {{"relu"}, "activation"},
                             {{"relu"}, "activation"},    {{"softmax"}, "softmax"},      {{"conv2d"}, "convolution"},
                             {{"conv2d"}, "convolution"}, {{"cumsum"}, "scan"},          {{"layernorm"}, "normalization"},
                             {{"maxpool2d"}, "pooling"},  {{"mseloss"}, "loss"},         {{"sigmoid"}, "activation"}};
  int i = 0;
  for (const auto& s : specs) {
    MemoryItem m = Item(ItemKind::kTrace, Stage::kDraft, Sig(s.ops, s.cat, "task" + std::to_string(i++)),
                        s.ops[0] + " kernel");
    ops_of[*store.Insert(m)] = s.ops[0];
  }
  return ops_of;
}

TEST_P(Store, RecallRanksSimilarItemsFirst) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  auto ops_of = FillMixedBank(*store);
  std::string bmm = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"bmm"}, "matmul", "bmm-task"), "bmm kernel"));
  ops_of[bmm] = "bmm";
  RecallQuery q;
  q.signature = Sig({"matmul"}, "matmul", "new-task");
  q.backend = "cpu";
  q.k = 3;
  auto r = store->Recall(q);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ(ops_of[(*r)[0].item.id], "matmul");
  EXPECT_EQ(ops_of[(*r)[1].item.id], "matmul");
  EXPECT_EQ(ops_of[(*r)[2].item.id], "bmm");
  EXPECT_GE((*r)[0].similarity, (*r)[1].similarity);
  EXPECT_GT((*r)[1].similarity, (*r)[2].similarity);
  // Every matmul item outranks every unrelated one.
  q.k = 100;
  r = store->Recall(q);
  ASSERT_EQ(r->size(), 13u);
  double worst_matmul = 2, best_unrelated = -2;
  for (const auto& s : *r) {
    if (ops_of[s.item.id] == "matmul") worst_matmul = std::min(worst_matmul, s.similarity);
    if (ops_of[s.item.id] != "matmul" && ops_of[s.item.id] != "bmm") best_unrelated = std::max(best_unrelated, s.similarity);
  }
  EXPECT_GT(worst_matmul, best_unrelated + 0.3);
  for (size_t i = 1; i < r->size(); ++i) EXPECT_GE((*r)[i - 1].similarity, (*r)[i].similarity);
}

TEST_P(Store, RecallFilters) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  auto add = [&](ItemKind k, Stage s, std::string backend, std::string task) {
    MemoryItem m = Item(k, s, Sig({"matmul"}, "matmul", std::move(task)));
    m.backend = backend;
    m.signature.backend = backend;
    return *store->Insert(m);
  };
  std::string trace_draft = add(ItemKind::kTrace, Stage::kDraft, "cpu", "t1");
  std::string trace_refine = add(ItemKind::kTrace, Stage::kRefine, "cpu", "t1");
  std::string note_any = add(ItemKind::kKnowledge, Stage::kAny, "cpu", "");
  std::string summary = add(ItemKind::kSummary, Stage::kDraft, "cpu", "t2");
  std::string cuda = add(ItemKind::kTrace, Stage::kDraft, "cuda", "t1");
  auto ids = [&](RecallQuery q) {
    q.signature = Sig({"matmul"}, "matmul");
    std::set<std::string> out;
    auto r = store->Recall(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok())
      for (const auto& s : *r) out.insert(s.item.id);
    return out;
  };
  RecallQuery q;
  q.backend = "cpu";
  EXPECT_EQ(ids(q), (std::set<std::string>{trace_draft, trace_refine, note_any, summary}));
  q.stage = Stage::kDraft;
  EXPECT_EQ(ids(q), (std::set<std::string>{trace_draft, note_any, summary}));
  q.kinds = {ItemKind::kTrace, ItemKind::kSummary};
  EXPECT_EQ(ids(q), (std::set<std::string>{trace_draft, summary}));
  q.task_id = "t1";
  EXPECT_EQ(ids(q), (std::set<std::string>{trace_draft}));
  q.task_id = "no-such-task";
  EXPECT_TRUE(ids(q).empty());
  RecallQuery all;
  EXPECT_EQ(ids(all).size(), 5u);
  all.backend = "opencl";
  EXPECT_TRUE(ids(all).empty());
  all.backend = "cpu";
  all.k = 0;
  EXPECT_EQ(store->Recall(all).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(Store, RecallSeesWritesOfAnotherInstance) {
  TempBank bank(GetParam());
  auto a = bank.Open();
  auto b = bank.Open();
  FillMixedBank(*a);
  RecallQuery q;
  q.signature = Sig({"cumprod"}, "scan");
  q.k = 1;
  auto before = a->Recall(q);  // loads a's index
  ASSERT_TRUE(before.ok());
  std::string id = *b->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"cumprod"}, "scan", "scan-task")));
  auto after = a->Recall(q);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].item.id, id);
  EXPECT_EQ((*after)[0].item.q_draft, 0.0);
  ASSERT_TRUE(b->ApplyUpdates({{id, Stage::kDraft, 1.0, 0.5}}).ok());
  EXPECT_DOUBLE_EQ((*a->Recall(q))[0].item.q_draft, 0.5);
}

TEST_P(Store, PersistsAcrossReopen) {
  TempBank bank(GetParam());
  std::string items;
  std::vector<std::string> ids;
  {
    auto store = bank.Open();
    FillMixedBank(*store);
    for (int i = 0; i < 30; ++i) {
      MemoryItem m = FullItem();
      m.id.clear();
      m.q_draft = i / 30.0;
      ids.push_back(*store->Insert(m));
    }
    ASSERT_TRUE(store->ApplyUpdates({{ids[3], Stage::kRefine, 1.0, 0.2}, {ids[7], Stage::kDraft, -1.0, 0.2}}).ok());
    ASSERT_TRUE(store->SaveNormaliser(Stage::kRefine, {3, 0.25, 0.5}).ok());
    items = testing::ExportedItems(*store);
  }
  auto store = bank.Open();
  EXPECT_EQ(testing::ExportedItems(*store), items);
  EXPECT_DOUBLE_EQ(store->Get(ids[3])->q_refine, UpdatedQ(-0.125, 1.0, 0.2));
  EXPECT_EQ(store->Get(ids[7])->visits_draft, 4);
  EXPECT_EQ(*store->LoadNormaliser(Stage::kRefine), (NormaliserState{3, 0.25, 0.5}));
  EXPECT_EQ(*store->LoadNormaliser(Stage::kDraft), NormaliserState());
  RecallQuery q;
  q.signature = Sig({"layernorm"}, "normalization");
  q.k = 1;
  auto r = store->Recall(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].item.title, "layernorm kernel");
}

TEST_P(Store, PopArtStatisticsPersist) {
  TempBank bank(GetParam());
  const std::vector<double> rewards = {0.3, -1, 0.1, 0.7, -1, 0.2, 0.05};
  PopArt uninterrupted(0.25, 0.01);
  std::vector<double> expected;
  for (double r : rewards) expected.push_back(uninterrupted.Normalise(r));
  {
    auto store = bank.Open();
    PopArt p(0.25, 0.01, *store->LoadNormaliser(Stage::kRefine));
    for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(p.Normalise(rewards[i]), expected[i]);
    ASSERT_TRUE(store->SaveNormaliser(Stage::kRefine, p.state()).ok());
  }
  auto store = bank.Open();
  PopArt p(0.25, 0.01, *store->LoadNormaliser(Stage::kRefine));
  EXPECT_EQ(p.state().count, 4);
  for (size_t i = 4; i < rewards.size(); ++i) EXPECT_DOUBLE_EQ(p.Normalise(rewards[i]), expected[i]);
}

TEST_P(Store, ListFiltersAndOrders) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    MemoryItem m = Item(i < 4 ? ItemKind::kTrace : ItemKind::kSummary, Stage::kDraft,
                        Sig({"relu"}, "activation", i % 2 ? "odd" : "even"));
    m.q_draft = i * 0.1;
    m.outcome = i == 2 ? "feasible" : "correctness/wrong_answer";
    m.parent_id = i == 3 ? "m-parent" : "";
    m.created_at = 1000 + i;
    ids.push_back(*store->Insert(m));
  }
  auto list = [&](ListFilter f) {
    std::vector<std::string> out;
    auto items = store->List(f);
    EXPECT_TRUE(items.ok());
    for (const auto& m : *items) out.push_back(m.id);
    return out;
  };
  ListFilter f;
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}));
  f.kind = ItemKind::kTrace;
  f.task_id = "even";
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[2], ids[0]}));
  f = ListFilter();
  f.outcome = "feasible";
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[2]}));
  f = ListFilter();
  f.parent_id = "m-parent";
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[3]}));
  f = ListFilter();
  f.min_q = 0.15;
  f.max_q = 0.45;
  f.order = ListOrder::kQDesc;
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[4], ids[3], ids[2]}));
  f.limit = 2;
  f.order = ListOrder::kQAsc;
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[2], ids[3]}));
  f = ListFilter();
  f.order = ListOrder::kOldest;
  f.limit = 1;
  EXPECT_EQ(list(f), (std::vector<std::string>{ids[0]}));
}

TEST_P(Store, Stats) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  FillMixedBank(*store);
  MemoryItem note = Item(ItemKind::kKnowledge, Stage::kAny, Sig({"matmul"}, "matmul"));
  std::string nid = *store->Insert(note);
  MemoryItem ok = FullItem();
  ASSERT_TRUE(store->Insert(ok).ok());
  ASSERT_TRUE(store->ApplyUpdates({{nid, Stage::kDraft, 1.0, 0.5}, {ok.id, Stage::kDraft, -1.0, 0.5}}).ok());
  auto s = store->Stats();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->items, 14);
  EXPECT_EQ(s->by_kind["trace"], 13);
  EXPECT_EQ(s->by_kind["knowledge"], 1);
  EXPECT_EQ(s->by_backend["cpu"], 14);
  EXPECT_EQ(s->by_stage["draft"], 12);
  EXPECT_EQ(s->by_outcome["feasible"], 1);
  EXPECT_EQ(s->by_outcome["(none)"], 13);
  EXPECT_EQ(s->schema_version, CurrentSchemaVersion());
  EXPECT_EQ(s->embedder, "structural-v1");
  EXPECT_EQ(s->dim, 64);
  EXPECT_GT(s->file_bytes, 0);
  // Visited: the note (0 -> 0.5) and FullItem (0.5 -> -0.25; it had 3 draft visits already).
  EXPECT_EQ(s->q_draft.visited, 2);
  EXPECT_DOUBLE_EQ(s->q_draft.min, -0.25);
  EXPECT_DOUBLE_EQ(s->q_draft.max, 0.5);
  EXPECT_DOUBLE_EQ(s->q_draft.median, 0.125);
  EXPECT_EQ(s->q_refine.visited, 1);
}

TEST_P(Store, PruneProtectsKnowledgeAndRefreshesRecall) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  auto other = bank.Open();
  std::vector<std::string> traces;
  for (int i = 0; i < 5; ++i) {
    MemoryItem m = Item(ItemKind::kTrace, Stage::kDraft, Sig({"matmul"}, "matmul", "mm"));
    m.q_draft = -0.5 + i * 0.25;  // -0.5 .. 0.5
    traces.push_back(*store->Insert(m));
  }
  MemoryItem bad_note = Item(ItemKind::kKnowledge, Stage::kAny, Sig({"matmul"}, "matmul"));
  bad_note.q_draft = -0.9;
  std::string note = *store->Insert(bad_note);
  MemoryItem seeded = Item(ItemKind::kBestPractice, Stage::kAny, Sig({"matmul"}, "matmul"));
  seeded.id = "seed-0000000000000001";
  seeded.q_draft = -0.9;
  ASSERT_TRUE(store->Insert(seeded).ok());

  RecallQuery q;
  q.signature = Sig({"matmul"}, "matmul");
  q.k = 100;
  ASSERT_EQ(other->Recall(q)->size(), 7u);  // loads the other instance's index

  PruneOptions none;
  EXPECT_EQ(store->Prune(none).status().code(), StatusCode::kInvalidArgument);

  PruneOptions p;
  p.q_below = 0.0;
  p.dry_run = true;
  EXPECT_EQ(*store->Prune(p), 2);  // two traces; the note and the seeded item are protected
  EXPECT_EQ(store->Stats()->items, 7);
  p.dry_run = false;
  EXPECT_EQ(*store->Prune(p), 2);
  EXPECT_EQ(store->Get(traces[0]).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->Get(note).ok());
  EXPECT_TRUE(store->Get(seeded.id).ok());
  EXPECT_EQ(other->Recall(q)->size(), 5u);  // the other instance reloaded after the prune

  PruneOptions keep;
  keep.keep_per_task = 1;
  EXPECT_EQ(*store->Prune(keep), 2);
  EXPECT_TRUE(store->Get(traces[4]).ok());  // the best of task "mm"
  EXPECT_EQ(store->Get(traces[3]).status().code(), StatusCode::kNotFound);

  PruneOptions knowledge;
  knowledge.q_below = 0.0;
  knowledge.include_knowledge = true;
  EXPECT_EQ(*store->Prune(knowledge), 2);
  EXPECT_EQ(other->Recall(q)->size(), 1u);

  PruneOptions old;
  old.older_than_ms = NowMs() + 1000;
  EXPECT_EQ(*store->Prune(old), 1);
  EXPECT_EQ(store->Stats()->items, 0);
}

// ------------------------------------------------------------------------------- export/import

TEST_P(ExportImport, RoundTripAndSkipsExisting) {
  TempBank a(GetParam()), b(GetParam());
  auto sa = a.Open();
  FillMixedBank(*sa);
  ASSERT_TRUE(sa->Insert(FullItem()).ok());
  fs::path file = a.dir() / "export.jsonl";
  {
    std::ofstream out(file);
    auto n = sa->Export(out);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 13);
  }
  std::string first_line = Slurp(file).substr(0, Slurp(file).find('\n'));
  auto header = nlohmann::json::parse(first_line);
  EXPECT_EQ(header["evokernel_memory_export"], 1);
  EXPECT_EQ(header["items"], 13);
  EXPECT_EQ(header["embedder"], "structural-v1");

  auto sb = b.Open();
  auto r = sb->Import(file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 13);
  EXPECT_EQ(r->added, 13);
  EXPECT_EQ(r->skipped, 0);
  EXPECT_EQ(testing::ExportedItems(*sb), testing::ExportedItems(*sa));
  r = sb->Import(file);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 0);
  EXPECT_EQ(r->skipped, 13);
  // Imported items are recalled like native ones.
  RecallQuery q;
  q.signature = Sig({"cumsum"}, "scan");
  q.k = 1;
  EXPECT_EQ((*sb->Recall(q))[0].item.title, "cumsum kernel");
}

TEST_P(ExportImport, BadFilesFailWithFileLineAndChangeNothing) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  FillMixedBank(*store);
  const std::string before = testing::ExportedItems(*store);
  const std::string header = R"({"evokernel_memory_export":1})";
  auto good = [](std::string id) {
    MemoryItem m = FullItem();
    m.id = std::move(id);
    return m.ToJson().dump();
  };
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(good("m-edited"));
    edit(j);
    return j.dump();
  };
  struct Case {
    std::string name, content, expect;
  };
  std::vector<Case> cases = {
      {"malformed_json", header + "\n" + good("m-a") + "\n{\"id\": \"m-b\", \n", ":3: malformed JSON"},
      {"missing_field", header + "\n" + with([](auto& j) { j.erase("kind"); }) + "\n", ":2: missing field 'kind'"},
      {"wrong_type", header + "\n" + good("m-a") + "\n" + with([](auto& j) { j["q_refine"] = "0.5"; }) + "\n",
       ":3: field 'q_refine': expected a number, got string"},
      {"unknown_kind", header + "\n" + with([](auto& j) { j["kind"] = "recipe"; }) + "\n", ":2: field 'kind': unknown item kind 'recipe'"},
      {"no_header", good("m-a") + "\n", ":1: not an evokernel memory export"},
      {"newer_format", R"({"evokernel_memory_export":2})" "\n" + good("m-a") + "\n", ":1: export format 2 is newer"},
      {"duplicate_id", header + "\n" + good("m-a") + "\n\n" + good("m-a") + "\n", ":4: duplicate id 'm-a' (also on line 2)"},
      {"missing_id", header + "\n" + with([](auto& j) { j.erase("id"); }) + "\n", ":2: missing field 'id'"},
      {"nan_like", header + "\n" + with([](auto& j) { j["signature"]["ops"] = {1}; }) + "\n", ":2: field 'signature.ops[0]'"},
      // Cut short: the header says how many items follow.
      {"cut_short", R"({"evokernel_memory_export":1,"items":3})" "\n" + good("m-a") + "\n" + good("m-b") + "\n",
       ":1: the header says the export holds 3 items but the file has 2"},
      {"bad_count", R"({"evokernel_memory_export":1,"items":"3"})" "\n" + good("m-a") + "\n",
       ":1: header: items must be a non-negative integer"},
  };
  for (const auto& c : cases) {
    fs::path f = bank.dir() / (c.name + ".jsonl");
    Write(f, c.content);
    auto r = store->Import(f);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(r.status().message().find(f.string() + c.expect), std::string::npos)
        << c.name << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("nothing was imported"), std::string::npos) << c.name;
    EXPECT_EQ(testing::ExportedItems(*store), before) << c.name;
  }
  EXPECT_EQ(store->Stats()->items, 12);
  Write(bank.dir() / "empty.jsonl", "");
  EXPECT_NE(store->Import(bank.dir() / "empty.jsonl").status().message().find("empty file"), std::string::npos);
  EXPECT_EQ(store->Import(bank.dir() / "missing.jsonl").status().code(), StatusCode::kNotFound);
}

// ------------------------------------------------------------------------------- schema, files

std::string SqlValue(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out = "<error>";
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

void SqlExec(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(Schema, NewBankRecordsVersionEmbedderAndWal) {
  TempBank bank;
  { auto store = bank.Open(); }
  EXPECT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='schema_version'"),
            std::to_string(CurrentSchemaVersion()));
  EXPECT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='embedder'"), "structural-v1");
  EXPECT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='embedder_dim'"), "64");
  EXPECT_EQ(SqlValue(bank.path(), "PRAGMA journal_mode"), "wal");
}

TEST(Schema, SeqIncreasesOnEveryInsertAndUpdate) {
  TempBank bank;
  auto store = bank.Open();
  std::string a = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  std::string b = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  ASSERT_TRUE(store->ApplyUpdates({{a, Stage::kDraft, 1, 0.2}}).ok());
  EXPECT_EQ(SqlValue(bank.path(), "SELECT seq FROM items WHERE id='" + b + "'"), "2");
  EXPECT_EQ(SqlValue(bank.path(), "SELECT seq FROM items WHERE id='" + a + "'"), "3");
  EXPECT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='seq'"), "3");
}

TEST(Schema, NewerVersionIsAClearErrorAndLeavesTheFile) {
  TempBank bank;
  {
    auto store = bank.Open();
    ASSERT_TRUE(store->Insert(FullItem()).ok());
  }
  SqlExec(bank.path(), "PRAGMA wal_checkpoint(TRUNCATE); UPDATE meta SET value='99' WHERE key='schema_version'");
  SqlExec(bank.path(), "PRAGMA wal_checkpoint(TRUNCATE)");
  const std::string bytes = Slurp(bank.path());
  auto r = OpenSqliteStore(bank.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("written by a newer evokernel"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(bank.path().string()), std::string::npos);
  EXPECT_EQ(Slurp(bank.path()), bytes);
}

TEST(Schema, MigrationsApplyInOrderInOneTransaction) {
  TempBank bank;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(bank.path().c_str(), &db), SQLITE_OK);
  const std::vector<Migration> v2 = {
      {1, "meta and t", "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE t(a INTEGER);"},
      {2, "t.b", "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';"},
  };
  EXPECT_EQ(*ReadSchemaVersion(db, "test"), 0);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrations(db, 0, {v2[0]}, "test").ok());
  ASSERT_EQ(sqlite3_exec(db, "COMMIT; INSERT INTO t(a) VALUES (7)", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(*ReadSchemaVersion(db, "test"), 1);
  // 1 -> 2 keeps the data.
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrations(db, 1, v2, "test").ok());
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(*ReadSchemaVersion(db, "test"), 2);
  sqlite3_close(db);
  EXPECT_EQ(SqlValue(bank.path(), "SELECT a || b FROM t"), "7x");
  // A failing step: the error names it, and rolling back the caller's transaction leaves v2.
  ASSERT_EQ(sqlite3_open(bank.path().c_str(), &db), SQLITE_OK);
  auto v4 = v2;
  v4.push_back({3, "t.c", "ALTER TABLE t ADD COLUMN c INTEGER;"});
  v4.push_back({4, "broken", "ALTER TABLE nope ADD COLUMN d INTEGER;"});
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  Status st = ApplyMigrations(db, 2, v4, "bank.sqlite");
  EXPECT_NE(st.message().find("schema migration 4 (broken) failed"), std::string::npos) << st.message();
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(*ReadSchemaVersion(db, "test"), 2);
  EXPECT_NE(sqlite3_exec(db, "SELECT c FROM t", nullptr, nullptr, nullptr), SQLITE_OK);
  // Gaps in the numbering are a programming error.
  EXPECT_EQ(ApplyMigrations(db, 0, {v2[1]}, "test").code(), StatusCode::kInternal);
  sqlite3_close(db);
  // The bank's own list is numbered 1..N.
  for (size_t i = 0; i < BankMigrations().size(); ++i) EXPECT_EQ(BankMigrations()[i].version, static_cast<int>(i + 1));
}

void ExpectRejectedUntouched(const fs::path& file, const std::string& expect) {
  const std::string bytes = Slurp(file);
  auto r = OpenSqliteStore(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find(file.string()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(expect), std::string::npos) << r.status().message();
  EXPECT_EQ(Slurp(file), bytes);
  EXPECT_FALSE(fs::exists(file.string() + "-wal"));
}

TEST(Schema, NonSqliteFileIsRejectedAndUntouched) {
  TempBank bank;
  Write(bank.path(), "these are my notes, not a database\n");
  ExpectRejectedUntouched(bank.path(), "not an SQLite database");
}

// A zero-byte file is not silently turned into a bank (it may be a truncated bank, or a file the
// user meant for something else).
TEST(Schema, EmptyFileIsRejectedAndUntouched) {
  TempBank bank;
  Write(bank.path(), "");
  ExpectRejectedUntouched(bank.path(), "empty file");
}

// Read-only opens (stats, list, show, export, report) never write the file: not its header, not
// its journal mode; writes through them fail; a missing bank is not created.
TEST(Schema, ReadOnlyOpenNeverWritesTheBank) {
  TempBank bank;
  {
    auto store = bank.Open();
    ASSERT_TRUE(store);
    FillMixedBank(*store);
  }
  const std::string before = Slurp(bank.path());
  StoreOptions ro;
  ro.read_only = true;
  {
    auto store = OpenSqliteStore(bank.path(), ro);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto stats = (*store)->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->items, 12);
    EXPECT_FALSE((*store)->Insert(FullItem()).ok()) << "a read-only store refuses writes";
  }
  EXPECT_EQ(Slurp(bank.path()), before);
  auto missing = OpenSqliteStore(bank.dir() / "none.sqlite", ro);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(bank.dir() / "none.sqlite"));
}

// A bank whose first page is sound but whose other pages are damaged opens for reading, but a
// command about to write (check_integrity) refuses it and leaves it untouched.
TEST(Schema, DamagedPagesAreFoundBeforeAnyWrite) {
  TempBank bank;
  {
    auto store = bank.Open();
    ASSERT_TRUE(store);
    FillMixedBank(*store);
  }
  std::string bytes = Slurp(bank.path());
  ASSERT_GT(bytes.size(), 4 * 4096u);
  for (size_t i = 2 * 4096 + 100; i < 3 * 4096; ++i) bytes[i] = static_cast<char>(i * 37 + 11);
  Write(bank.path(), bytes);
  StoreOptions check;
  check.check_integrity = true;
  auto r = OpenSqliteStore(bank.path(), check);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("corrupt"), std::string::npos) << r.status().message();
  EXPECT_EQ(Slurp(bank.path()), bytes);
}

TEST(Schema, CorruptFileIsRejectedAndUntouched) {
  TempBank bank;
  std::string junk(std::string("SQLite format 3") + '\0');
  for (int i = 0; i < 8192; ++i) junk += static_cast<char>((i * 131 + 7) % 251);
  Write(bank.path(), junk);
  ExpectRejectedUntouched(bank.path(), "corrupt");
}

TEST(Schema, ForeignSqliteDatabaseIsRejectedAndUntouched) {
  TempBank bank;
  SqlExec(bank.path(), "CREATE TABLE photos(id INTEGER); INSERT INTO photos VALUES (1)");
  ExpectRejectedUntouched(bank.path(), "not an evokernel memory bank");
}

TEST(Schema, MissingBankWithoutCreate) {
  TempBank bank;
  StoreOptions o;
  o.create_if_missing = false;
  auto r = OpenSqliteStore(bank.path(), o);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(bank.path()));
}

class FakeEmbedder : public Embedder {
 public:
  std::string name() const override { return "fake-v1"; }
  int dim() const override { return 8; }
  Result<std::vector<float>> Embed(const TaskSignature& s, std::string_view) const override {
    std::vector<float> v(8, 0.0f);
    v[s.ops.empty() ? 0 : s.ops[0].size() % 8] = 1.0f;
    return v;
  }
};

TEST(Schema, EmbedderMismatchIsAClearError) {
  TempBank bank;
  { auto store = bank.Open(); }
  StoreOptions o;
  o.embedder = std::make_shared<FakeEmbedder>();
  auto r = OpenSqliteStore(bank.path(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  for (const char* part : {"structural-v1", "fake-v1", "export"})
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();

  // A bank built with another embedder opens without one for reading, not for inserting.
  TempBank fake;
  {
    auto store = fake.Open(o);
    ASSERT_TRUE(store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))).ok());
    RecallQuery q;
    q.signature = Sig({"relu"}, "activation");
    EXPECT_EQ(store->Recall(q)->size(), 1u);
  }
  auto plain = fake.Open();
  EXPECT_EQ(plain->Stats()->items, 1);
  EXPECT_EQ(plain->Stats()->embedder, "fake-v1");
  auto ins = plain->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  ASSERT_FALSE(ins.ok());
  EXPECT_NE(ins.status().message().find("fake-v1"), std::string::npos);
  RecallQuery q;
  EXPECT_FALSE(plain->Recall(q).ok());
}

// ------------------------------------------------------------------------------- seed notes

fs::path FixtureNotes() { return evokernel::testing::FixturesDir() / "knowledge" / "cpu"; }

TEST(Seed, LoadsNotesIdempotently) {
  TempBank bank;
  auto store = bank.Open();
  auto r = SeedKnowledge(*store, "cpu", FixtureNotes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 4);  // README.md is not a note
  EXPECT_EQ(r->added, 4);
  r = SeedKnowledge(*store, "cpu", FixtureNotes());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 0);
  EXPECT_EQ(r->skipped, 4);
  ListFilter f;
  f.order = ListOrder::kOldest;
  auto items = *store->List(f);
  ASSERT_EQ(items.size(), 4u);
  std::map<std::string, MemoryItem> by_title;
  for (const auto& m : items) {
    EXPECT_EQ(m.id.substr(0, 5), "seed-");
    EXPECT_EQ(m.id.size(), 21u);
    EXPECT_EQ(m.backend, "cpu");
    by_title[m.title] = m;
  }
  const MemoryItem& acts = by_title.at("Element-wise activations with exact PyTorch formulas");
  EXPECT_EQ(acts.kind, ItemKind::kKnowledge);
  EXPECT_EQ(acts.stage, Stage::kDraft);
  EXPECT_EQ(acts.signature.ops, (std::vector<std::string>{"gelu", "leakyrelu", "relu"}));
  EXPECT_EQ(acts.signature.category, "activation");
  EXPECT_NE(acts.content.find("max(x, 0)"), std::string::npos);
  const MemoryItem& tiling = by_title.at("Tile for the L2 cache before vectorising");
  EXPECT_EQ(tiling.kind, ItemKind::kBestPractice);
  EXPECT_EQ(tiling.stage, Stage::kRefine);
  EXPECT_EQ(tiling.signature.Categories(), (std::vector<std::string>{"matmul", "convolution"}));
  const MemoryItem& general = by_title.at("Kernel ABI: what every kernel receives");
  EXPECT_TRUE(general.signature.ops.empty());
  // The lookup finds the GEMM note for a matmul task.
  auto found = KnowledgeLookup(*store, Sig({"matmul"}, "matmul"), "cpu", Stage::kDraft, 1);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].title, "GEMM on CPU: packed panels and register tiles");
}

TEST(Seed, AnEditedNoteAddsItsNewVersion) {
  TempBank bank;
  fs::path dir = bank.dir() / "notes";
  fs::copy(FixtureNotes(), dir, fs::copy_options::recursive);
  auto store = bank.Open();
  ASSERT_EQ(SeedKnowledge(*store, "cpu", dir)->added, 4);
  std::string gemm = Slurp(dir / "gemm.md");
  Write(dir / "gemm.md", gemm + "Prefetch the next panel.\n");
  auto r = SeedKnowledge(*store, "cpu", dir);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 1);
  EXPECT_EQ(r->skipped, 3);
  // Another backend gets its own ids.
  EXPECT_EQ(SeedKnowledge(*store, "opencl", dir)->added, 4);
  EXPECT_EQ(SeedKnowledge(*store, "cpu", bank.dir() / "nope").status().code(), StatusCode::kNotFound);
}

TEST(Seed, BadFrontMatterIsAnErrorWithFileAndLine) {
  TempBank bank;
  struct Case {
    std::string name, content, expect;
  };
  std::vector<Case> cases = {
      {"no_front_matter", "# Title\nbody\n", ":1: a note must start with front matter"},
      {"unknown_key", "---\ntitle: T\ncolour: red\n---\nbody\n", ":3: unknown front-matter key 'colour'"},
      {"no_colon", "---\ntitle: T\nops relu\n---\nbody\n", ":3: expected 'key: value'"},
      {"bad_kind", "---\ntitle: T\n\nkind: trace\n---\nbody\n", ":4: kind must be knowledge or best_practice"},
      {"bad_stage", "---\ntitle: T\nstage: later\n---\nbody\n", ":3: unknown stage 'later'"},
      {"repeated", "---\ntitle: T\ntitle: U\n---\nbody\n", ":3: 'title' is given twice"},
      {"unclosed", "---\ntitle: T\nops: relu\nbody\n", ":4: expected 'key: value'"},
      {"unclosed_eof", "---\ntitle: T\n", ":1: the front matter opened here is never closed"},
      {"no_title", "---\nops: relu\n---\nbody\n", ":1: the front matter has no title"},
      {"no_body", "---\ntitle: T\n---\n\n", ":3: the note has no body"},
  };
  for (const auto& c : cases) {
    fs::path f = bank.dir() / (c.name + ".md");
    Write(f, c.content);
    auto r = ParseNote(f, c.name + ".md", "cpu");
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.status().message().find(f.string() + c.expect), std::string::npos) << c.name << ": " << r.status().message();
  }
}

TEST(Seed, OneBadNoteFailsTheWholeSeedAndChangesNothing) {
  TempBank bank;
  fs::path dir = bank.dir() / "notes";
  fs::copy(FixtureNotes(), dir, fs::copy_options::recursive);
  Write(dir / "zz_bad.md", "---\ntitle: Bad\nkind: nonsense\n---\nbody\n");
  auto store = bank.Open();
  auto r = SeedKnowledge(*store, "cpu", dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("zz_bad.md:3:"), std::string::npos) << r.status().message();
  EXPECT_EQ(store->Stats()->items, 0);
}

// ------------------------------------------------------------------------------- retrieval step

TEST(Retrieve, KnowledgeSlotsPlusValueSelectedExperience) {
  TempBank bank;
  auto store = bank.Open();
  ASSERT_TRUE(SeedKnowledge(*store, "cpu", FixtureNotes()).ok());
  std::vector<std::string> traces;
  for (int i = 0; i < 20; ++i) {
    MemoryItem m = Item(ItemKind::kTrace, Stage::kDraft, Sig({"matmul"}, "matmul", "mm" + std::to_string(i % 3)));
    m.q_draft = i / 20.0;
    traces.push_back(*store->Insert(m));
  }
  MemoryConfig c;
  c.epsilon = 0;
  std::mt19937_64 rng(1);
  auto ctx = RetrieveContext(*store, Sig({"matmul"}, "matmul", "new"), "cpu", Stage::kDraft, RetrievalPolicy::kValue, c, rng);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  ASSERT_EQ(ctx->knowledge.size(), 2u);
  EXPECT_EQ(ctx->knowledge[0].title, "GEMM on CPU: packed panels and register tiles");
  EXPECT_EQ(ctx->pool_size, 12u);
  ASSERT_EQ(ctx->experience.size(), 4u);
  // The pool is 12 of the 20 equally similar traces; value picks the best Q among them.
  std::vector<double> pool_q;
  for (const auto& e : ctx->experience) pool_q.push_back(e.item.q_draft);
  EXPECT_TRUE(std::is_sorted(pool_q.rbegin(), pool_q.rend()));
  EXPECT_EQ(ctx->ids().size(), 6u);
  for (const auto& e : ctx->experience) EXPECT_NE(e.item.kind, ItemKind::kKnowledge);

  auto none = RetrieveContext(*store, Sig({"matmul"}, "matmul"), "cpu", Stage::kDraft, RetrievalPolicy::kNone, c, rng);
  EXPECT_TRUE(none->knowledge.empty());
  EXPECT_TRUE(none->experience.empty());

  // Refining from a start point: its children join the pool, the start point never does.
  MemoryItem start = *store->Get(traces[0]);
  MemoryItem child = Item(ItemKind::kTrace, Stage::kRefine, Sig({"softmax"}, "softmax", "mm0"), "child");
  child.parent_id = start.id;
  child.q_refine = 5;  // the best value in the bank
  std::string child_id = *store->Insert(child);
  auto refine = RetrieveContext(*store, Sig({"matmul"}, "matmul", "mm0"), "cpu", Stage::kRefine, RetrievalPolicy::kValue,
                                c, rng, &start);
  ASSERT_TRUE(refine.ok());
  ASSERT_FALSE(refine->experience.empty());
  EXPECT_EQ(refine->experience[0].item.id, child_id);
  for (const auto& e : refine->experience) EXPECT_NE(e.item.id, start.id);
  // Children are refined variants only: a summary's parent is the trace it summarises (here
  // the start point), and a draft trace parented to it is no refinement of it either. Neither
  // joins the pool, however high its value.
  MemoryItem summary = Item(ItemKind::kSummary, Stage::kDraft, Sig({"softmax"}, "softmax", "mm0"), "summary of start");
  summary.parent_id = start.id;
  summary.q_refine = 9;
  const std::string summary_id = *store->Insert(summary);
  MemoryItem draft_child = Item(ItemKind::kTrace, Stage::kDraft, Sig({"softmax"}, "softmax", "mm0"), "draft child");
  draft_child.parent_id = start.id;
  draft_child.q_refine = 8;
  const std::string draft_child_id = *store->Insert(draft_child);
  auto refine2 = RetrieveContext(*store, Sig({"matmul"}, "matmul", "mm0"), "cpu", Stage::kRefine,
                                 RetrievalPolicy::kValue, c, rng, &start);
  ASSERT_TRUE(refine2.ok());
  ASSERT_FALSE(refine2->experience.empty());
  EXPECT_EQ(refine2->experience[0].item.id, child_id);
  for (const auto& e : refine2->experience) {
    EXPECT_NE(e.item.id, summary_id);
    EXPECT_NE(e.item.id, draft_child_id);
  }

  MemoryItem feasible = Item(ItemKind::kTrace, Stage::kDraft, Sig({"matmul"}, "matmul", "mm1"));
  feasible.outcome = "feasible";
  feasible.latency_ms = 3;
  std::string fid = *store->Insert(feasible);
  auto sp = ChooseStartPoint(*store, "mm1", "cpu", RetrievalPolicy::kSimilarity, c, rng);
  ASSERT_TRUE(sp.ok());
  ASSERT_TRUE(sp->has_value());
  EXPECT_EQ((*sp)->id, fid);
  EXPECT_FALSE(ChooseStartPoint(*store, "mm2", "cpu", RetrievalPolicy::kValue, c, rng)->has_value());
}

// ------------------------------------------------------------------------------- value scopes

TEST(ValueScope, NamesAndStateSimilarity) {
  EXPECT_EQ(*ParseValueScope("item"), ValueScope::kItem);
  EXPECT_EQ(*ParseValueScope("category"), ValueScope::kCategory);
  EXPECT_EQ(*ParseValueScope("neighbourhood"), ValueScope::kNeighbourhood);
  EXPECT_EQ(*ParseValueScope("neighborhood"), ValueScope::kNeighbourhood);
  EXPECT_EQ(ParseValueScope("task").status().code(), StatusCode::kInvalidArgument);
  for (auto s : {ValueScope::kItem, ValueScope::kCategory, ValueScope::kNeighbourhood})
    EXPECT_EQ(*ParseValueScope(ValueScopeName(s)), s);
  EXPECT_EQ(MemoryConfig().value_scope, ValueScope::kNeighbourhood);
  MemoryConfig bad;
  bad.neighbour_prior = 0;
  EXPECT_NE(bad.Validate().message().find("neighbour_prior"), std::string::npos);

  EXPECT_EQ(StateSimilarity("activation", "activation"), 1.0);
  EXPECT_EQ(StateSimilarity("conv_fusion", "convolution"), 0.5);
  EXPECT_EQ(StateSimilarity("gemm_fusion", "matmul"), 0.5);
  EXPECT_EQ(StateSimilarity("conv_fusion", "cnn"), 0.5);
  EXPECT_EQ(StateSimilarity("conv_fusion", "gemm_fusion"), 0.0);  // "fusion" alone says nothing
  EXPECT_EQ(StateSimilarity("other_fusion", "conv_fusion"), 0.0);
  EXPECT_EQ(StateSimilarity("pooling", "normalization"), 0.0);
  EXPECT_EQ(StateSimilarity("foo", "bar"), 0.0);
  EXPECT_EQ(StateOf(Sig({"relu"}, " activation ")), "activation");
}

// An item that helped category A and hurt category B, against a neutral one: `category` ranks it
// first for A and last for B; `item` ranks it the same for both (by its one global value).
TEST_P(ValueScopeStore, CategoryRanksByTheTasksCategoryItemDoesNot) {
  TempBank bank(GetParam());
  auto store = bank.Open();
  const std::string x = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "x"), "x"));
  const std::string y = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "y"), "y"));
  // x: three failures in reduction tasks, then three successes in activation tasks.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->ApplyUpdates({{x, Stage::kDraft, -1.0, 0.2, "reduction"}}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->ApplyUpdates({{x, Stage::kDraft, 1.0, 0.2, "activation"}}).ok());
  const MemoryItem gx = *store->Get(x);
  // Global value: the six updates in order, exactly as before state values existed.
  double global = 0;
  for (double r : {-1, -1, -1, 1, 1, 1}) global = UpdatedQ(global, r, 0.2);
  EXPECT_DOUBLE_EQ(gx.q_draft, global);
  EXPECT_EQ(gx.visits_draft, 6);
  ASSERT_EQ(gx.state_values.size(), 2u);
  EXPECT_EQ(gx.state_values[0].state, "activation");  // sorted by stage, then state
  EXPECT_EQ(gx.state_values[0].visits, 3);
  EXPECT_EQ(gx.state_values[1].state, "reduction");
  EXPECT_EQ(gx.state_values[1].visits, 3);
  // reduction started from the global value 0; activation from the global value it met (-0.488).
  EXPECT_DOUBLE_EQ(gx.FindStateValue(Stage::kDraft, "reduction")->q, -0.488);
  double act = -0.488;
  for (int i = 0; i < 3; ++i) act = UpdatedQ(act, 1, 0.2);
  EXPECT_DOUBLE_EQ(gx.FindStateValue(Stage::kDraft, "activation")->q, act);
  EXPECT_DOUBLE_EQ(act, global);  // the last updates were all activation
  EXPECT_EQ(gx.FindStateValue(Stage::kRefine, "activation"), nullptr);
  EXPECT_TRUE(store->Get(y)->state_values.empty());

  MemoryConfig c;
  c.epsilon = 0;
  c.n = 1;
  c.knowledge_slots = 0;
  auto top = [&](ValueScope scope, const std::string& category) {
    c.value_scope = scope;
    std::mt19937_64 rng(1);
    auto ctx = RetrieveContext(*store, Sig({"relu"}, category, "new"), "cpu", Stage::kDraft, RetrievalPolicy::kValue,
                               c, rng);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    EXPECT_EQ(ctx->pool_size, 2u);
    return ctx->experience.at(0).item.id;
  };
  EXPECT_EQ(top(ValueScope::kCategory, "activation"), x);
  EXPECT_EQ(top(ValueScope::kCategory, "reduction"), y);
  EXPECT_EQ(top(ValueScope::kItem, "activation"), x);
  EXPECT_EQ(top(ValueScope::kItem, "reduction"), x);
  // A category x has not met: its global value, as under `item`.
  EXPECT_EQ(top(ValueScope::kCategory, "scan"), x);
  // Neighbourhood with a well-visited state agrees with category here.
  EXPECT_EQ(top(ValueScope::kNeighbourhood, "activation"), x);
  EXPECT_EQ(top(ValueScope::kNeighbourhood, "reduction"), y);

  // A failing batch changes no state value either.
  EXPECT_EQ(store->ApplyUpdates({{x, Stage::kDraft, 1.0, 0.2, "scan"}, {"m-missing", Stage::kDraft, 1.0, 0.2, "scan"}})
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store->Get(x)->state_values.size(), 2u);
  EXPECT_EQ(store->Get(x)->visits_draft, 6);
  EXPECT_EQ(store->ApplyUpdates({{x, Stage::kDraft, 1.0, 0.2, std::string("a\0b", 3)}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Stats()->state_values, 2);

  // Start points resolve values the same way.
  std::vector<MemoryItem> variants = {*store->Get(y), *store->Get(x)};
  variants[1].q_refine = 0.5;
  variants[1].state_values.push_back({Stage::kRefine, "reduction", -0.5, 4, 0});
  c.value_scope = ValueScope::kItem;
  std::mt19937_64 rng(1);
  EXPECT_EQ(ChooseStartPoint(variants, RetrievalPolicy::kValue, c, rng, "reduction"), 1u);
  c.value_scope = ValueScope::kCategory;
  EXPECT_EQ(ChooseStartPoint(variants, RetrievalPolicy::kValue, c, rng, "reduction"), 0u);
  EXPECT_EQ(ChooseStartPoint(variants, RetrievalPolicy::kValue, c, rng, "activation"), 1u);
}

TEST(ValueScope, NeighbourhoodBorrowsFromRelatedCategoriesAndShrinksToGlobal) {
  MemoryItem m = Item(ItemKind::kTrace, Stage::kDraft, Sig({"conv2d"}, "convolution"));
  m.q_draft = 0.1;
  m.q_refine = -0.3;
  m.state_values = {{Stage::kDraft, "convolution", 0.9, 20, 0}, {Stage::kDraft, "loss", -1.0, 1, 0}};
  MemoryConfig c;  // alpha 0.2: horizon (2 - 0.2) / 0.2 = 9 visits; neighbour_prior 2
  c.value_scope = ValueScope::kNeighbourhood;
  // A related category: convolution's value at half weight, 9 capped visits -> 4.5 against 2.
  EXPECT_NEAR(ScopedValue(m, Stage::kDraft, "conv_fusion", c), (2 * 0.1 + 4.5 * 0.9) / 6.5, 1e-12);
  // The state itself, well visited: mostly its own value.
  EXPECT_NEAR(ScopedValue(m, Stage::kDraft, "convolution", c), (2 * 0.1 + 9 * 0.9) / 11, 1e-12);
  // Thin evidence (one visit) is shrunk toward the global value.
  EXPECT_NEAR(ScopedValue(m, Stage::kDraft, "loss", c), (2 * 0.1 - 1.0) / 3, 1e-12);
  // Nothing related: the global value exactly; likewise the other stage, with no state values.
  EXPECT_EQ(ScopedValue(m, Stage::kDraft, "scan", c), 0.1);
  EXPECT_EQ(ScopedValue(m, Stage::kRefine, "convolution", c), -0.3);
  EXPECT_EQ(ScopedValue(m, Stage::kDraft, "", c), 0.1);
  // category: the state's own value, or global when unmet; item: global always.
  c.value_scope = ValueScope::kCategory;
  EXPECT_EQ(ScopedValue(m, Stage::kDraft, "loss", c), -1.0);
  EXPECT_EQ(ScopedValue(m, Stage::kDraft, "conv_fusion", c), 0.1);
  EXPECT_EQ(ScopedValue(m, Stage::kAny, "convolution", c), 0.5 * (0.9 - 0.3));
  c.value_scope = ValueScope::kItem;
  EXPECT_EQ(ScopedValue(m, Stage::kDraft, "convolution", c), 0.1);
  EXPECT_EQ(ScopedValue(m, Stage::kAny, "convolution", c), StageValue(m, Stage::kAny));

  // Selection: for a conv_fusion task, neighbourhood prefers the item that helped convolution
  // over one with a better global value earned elsewhere; category (unmet: global) does not.
  MemoryItem other = Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"));
  other.id = "other";
  other.q_draft = 0.4;
  other.state_values = {{Stage::kDraft, "activation", 0.4, 9, 0}};
  m.id = "conv";
  std::vector<ScoredItem> pool = {{other, 0.5}, {m, 0.5}};
  c.n = 1;
  c.epsilon = 0;
  std::mt19937_64 rng(3);
  c.value_scope = ValueScope::kNeighbourhood;
  EXPECT_EQ(SelectContext(pool, Stage::kDraft, RetrievalPolicy::kValue, c, rng, "conv_fusion")[0].item.id, "conv");
  c.value_scope = ValueScope::kCategory;
  EXPECT_EQ(SelectContext(pool, Stage::kDraft, RetrievalPolicy::kValue, c, rng, "conv_fusion")[0].item.id, "other");
}

TEST_P(ValueScopeStore, StateValuesExportImportAndPrune) {
  TempBank a(GetParam()), b(GetParam());
  auto sa = a.Open();
  const std::string x = *sa->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "x"), "x"));
  const std::string y = *sa->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"sum"}, "reduction", "y"), "y"));
  ASSERT_TRUE(sa->ApplyUpdates({{x, Stage::kDraft, 1.0, 0.2, "activation"},
                                {x, Stage::kRefine, -0.5, 0.2, "matmul"},
                                {y, Stage::kDraft, -1.0, 0.2, "reduction"},
                                {y, Stage::kDraft, 1.0, 0.2}})  // no state: the global value only
                  .ok());
  const MemoryItem before = *sa->Get(x);
  ASSERT_EQ(before.state_values.size(), 2u);
  fs::path file = a.dir() / "export.jsonl";
  {
    std::ofstream out(file);
    ASSERT_EQ(*sa->Export(out), 2);
  }
  auto sb = b.Open();
  auto r = sb->Import(file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->added, 2);
  EXPECT_EQ(testing::ExportedItems(*sb), testing::ExportedItems(*sa));
  const MemoryItem after = *sb->Get(x);
  EXPECT_EQ(after.state_values, before.state_values);
  EXPECT_EQ(after.ToJson(), before.ToJson());
  ASSERT_EQ(sb->Get(y)->state_values.size(), 1u);
  EXPECT_EQ(sb->Stats()->state_values, 3);
  // Learning goes on in the importing bank from the imported state values.
  ASSERT_TRUE(sb->ApplyUpdates({{x, Stage::kDraft, 1.0, 0.2, "activation"}}).ok());
  EXPECT_DOUBLE_EQ(sb->Get(x)->FindStateValue(Stage::kDraft, "activation")->q, UpdatedQ(0.2, 1, 0.2));
  EXPECT_EQ(sb->Get(x)->FindStateValue(Stage::kDraft, "activation")->visits, 2);
  // Importing again skips the items and their state values.
  r = sb->Import(file);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->skipped, 2);
  EXPECT_EQ(sb->Get(x)->FindStateValue(Stage::kDraft, "activation")->visits, 2);

  // Pruning an item removes its state values.
  PruneOptions p;
  p.q_below = 0;
  p.q_stage = Stage::kRefine;
  EXPECT_EQ(*sb->Prune(p), 1);  // x: q_refine -0.1
  EXPECT_EQ(sb->Get(x).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sb->Stats()->state_values, 1);
}

TEST(Schema, VersionOneBankMigratesKeepingItsItemsAndValues) {
  TempBank bank;
  std::string before;
  std::string id;
  {
    auto store = bank.Open();
    ASSERT_TRUE(store->Insert(FullItem()).ok());
    id = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "t")));
    ASSERT_TRUE(store->ApplyUpdates({{id, Stage::kDraft, 1.0, 0.2}}).ok());
    before = testing::ExportedItems(*store);
  }
  // What version 1 wrote: the same tables without item_state_values.
  SqlExec(bank.path(), "DROP TABLE item_state_values; UPDATE meta SET value='1' WHERE key='schema_version'");
  SqlExec(bank.path(), "PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='schema_version'"), "1");
  StoreOptions ro;
  ro.read_only = true;
  auto refused = OpenSqliteStore(bank.path(), ro);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("needs migrating"), std::string::npos) << refused.status().message();

  auto store = bank.Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SqlValue(bank.path(), "SELECT value FROM meta WHERE key='schema_version'"),
            std::to_string(CurrentSchemaVersion()));
  EXPECT_EQ(CurrentSchemaVersion(), 2);
  EXPECT_EQ(testing::ExportedItems(*store), before);
  EXPECT_EQ(store->Stats()->items, 2);
  EXPECT_EQ(store->Stats()->state_values, 0);
  // The migrated bank learns state values; the global value goes on from where it was.
  ASSERT_TRUE(store->ApplyUpdates({{id, Stage::kDraft, 1.0, 0.2, "activation"}}).ok());
  const MemoryItem m = *store->Get(id);
  EXPECT_DOUBLE_EQ(m.q_draft, 0.36);
  ASSERT_EQ(m.state_values.size(), 1u);
  EXPECT_DOUBLE_EQ(m.state_values[0].q, 0.36);  // started from the global 0.2
  EXPECT_EQ(m.state_values[0].visits, 1);
}

// ------------------------------------------------------------------------------- HTTP embedder

// An embeddings endpoint on 127.0.0.1 whose reply the test chooses.
class EmbedServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  explicit EmbedServer(Handler h) : handler_(std::move(h)) {
    server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_;
        last_auth_ = req.get_header_value("Authorization");
        last_body_ = req.body;
      }
      handler_(req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EmbedServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::string last_auth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_auth_;
  }
  std::string last_body() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_body_;
  }

 private:
  Handler handler_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  int requests_ = 0;
  std::string last_auth_, last_body_;
};

// Replies with vector (i+1, 2, 0, 0) for input i, in reverse order with explicit indices.
void GoodReply(const httplib::Request& req, httplib::Response& res) {
  auto body = nlohmann::json::parse(req.body);
  nlohmann::json data = nlohmann::json::array();
  for (int i = static_cast<int>(body["input"].size()) - 1; i >= 0; --i)
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", {i + 1, 2, 0, 0}}});
  res.set_content(nlohmann::json({{"object", "list"}, {"data", data}, {"model", body["model"]}}).dump(), "application/json");
}

HttpEmbedderOptions Options(const EmbedServer& s) {
  HttpEmbedderOptions o;
  o.base_url = s.url();
  o.model = "test-embed";
  o.dim = 4;
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

TEST(HttpEmbedder, EmbedsBatchesAndSendsTheKey) {
  EmbedServer server(GoodReply);
  setenv("EVK_TEST_EMBED_KEY", "sekrit-123", 1);
  HttpEmbedderOptions o = Options(server);
  o.api_key_env = "EVK_TEST_EMBED_KEY";
  o.max_batch = 2;
  auto e = MakeHttpEmbedder(o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->name(), "http:test-embed");
  EXPECT_EQ((*e)->dim(), 4);
  auto v = (*e)->Embed(Sig({"matmul"}, "matmul"), "tiling");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_NEAR((*v)[0], 1 / std::sqrt(5.0), 1e-6);
  EXPECT_NEAR((*v)[1], 2 / std::sqrt(5.0), 1e-6);
  EXPECT_EQ(server.last_auth(), "Bearer sekrit-123");
  auto sent = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(sent["model"], "test-embed");
  EXPECT_EQ(sent["input"][0], RenderForEmbedding(Sig({"matmul"}, "matmul"), "tiling"));
  EXPECT_NE(sent["input"][0].get<std::string>().find("operators: matmul"), std::string::npos);

  TaskSignature s = Sig({"relu"}, "activation");
  std::vector<EmbedRequest> reqs(3, EmbedRequest{&s, "x"});
  int before = server.requests();
  auto batch = (*e)->EmbedBatch(reqs);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(server.requests() - before, 2);  // batches of 2 and 1
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_NEAR((*batch)[1][0], 2 / std::sqrt(8.0), 1e-6);  // index 1 of the first request
  EXPECT_NEAR((*batch)[2][0], 1 / std::sqrt(5.0), 1e-6);  // index 0 of the second

  // A bank built with it records it, and recalls through it.
  TempBank bank;
  StoreOptions so;
  so.embedder = *e;
  auto store = bank.Open(so);
  ASSERT_TRUE(store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))).ok());
  EXPECT_EQ(store->Stats()->embedder, "http:test-embed");
  EXPECT_EQ(store->Stats()->dim, 4);
  RecallQuery q;
  q.signature = Sig({"relu"}, "activation");
  EXPECT_EQ(store->Recall(q)->size(), 1u);
  unsetenv("EVK_TEST_EMBED_KEY");
}

TEST(HttpEmbedder, ServerErrorNamesStatusButNeverTheKey) {
  EmbedServer server([](const httplib::Request& req, httplib::Response& res) {
    res.status = 500;
    res.set_content("internal error; you sent " + req.get_header_value("Authorization"), "text/plain");
  });
  setenv("EVK_TEST_EMBED_KEY", "sekrit-456", 1);
  HttpEmbedderOptions o = Options(server);
  o.api_key_env = "EVK_TEST_EMBED_KEY";
  auto v = (*MakeHttpEmbedder(o))->Embed(Sig({"relu"}, "activation"), "");
  unsetenv("EVK_TEST_EMBED_KEY");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kProviderError);
  EXPECT_NE(v.status().message().find("HTTP 500"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find(server.url()), std::string::npos);
  EXPECT_EQ(v.status().message().find("sekrit-456"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find("<redacted>"), std::string::npos);
}

TEST(HttpEmbedder, GarbageJsonAndWrongShapesAreProviderErrors) {
  auto embed_with = [](EmbedServer::Handler h) {
    EmbedServer server(std::move(h));
    auto v = (*MakeHttpEmbedder(Options(server)))->Embed(Sig({"relu"}, "activation"), "");
    return v.ok() ? std::string("OK") : v.status().ToString();
  };
  EXPECT_NE(embed_with([](auto&, auto& res) { res.set_content("{not json", "application/json"); }).find("provider_error: embeddings endpoint"),
            std::string::npos);
  EXPECT_NE(embed_with([](auto&, auto& res) { res.set_content("{not json", "application/json"); }).find("reply is not JSON"),
            std::string::npos);
  EXPECT_NE(embed_with([](auto&, auto& res) { res.set_content(R"({"result": []})", "application/json"); }).find("no \"data\" array"),
            std::string::npos);
  EXPECT_NE(embed_with([](auto&, auto& res) {
              res.set_content(R"({"data": [{"embedding": [1, 2, 3]}]})", "application/json");
            }).find("3 dimensions, expected 4"),
            std::string::npos);
  EXPECT_NE(embed_with([](auto&, auto& res) {
              res.set_content(R"({"data": [{"embedding": [1, "2", 3, 4]}]})", "application/json");
            }).find("embedding[1] is not a number"),
            std::string::npos);
  EXPECT_NE(embed_with([](auto&, auto& res) { res.set_content(R"({"data": []})", "application/json"); }).find("0 embeddings for 1 inputs"),
            std::string::npos);
}

TEST(HttpEmbedder, Timeout) {
  EmbedServer server([](const httplib::Request& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    GoodReply(req, res);
  });
  HttpEmbedderOptions o = Options(server);
  o.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto v = (*MakeHttpEmbedder(o))->Embed(Sig({"relu"}, "activation"), "");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kTimeout) << v.status().ToString();
  EXPECT_LT(took, std::chrono::milliseconds(1400));
}

TEST(HttpEmbedder, BadOptions) {
  HttpEmbedderOptions o;
  o.model = "m";
  o.dim = 4;
  EXPECT_NE(MakeHttpEmbedder(o).status().message().find("URL is empty"), std::string::npos);
  o.base_url = "http://127.0.0.1:9/v1";
  o.dim = 0;
  EXPECT_NE(MakeHttpEmbedder(o).status().message().find("dimension"), std::string::npos);
  o.dim = 4;
  o.api_key_env = "EVK_TEST_SURELY_UNSET_VARIABLE";
  EXPECT_NE(MakeHttpEmbedder(o).status().message().find("EVK_TEST_SURELY_UNSET_VARIABLE"), std::string::npos);
  // Nothing listens on port 9: a connection error, not a crash.
  o.api_key_env.clear();
  auto v = (*MakeHttpEmbedder(o))->Embed(Sig({"relu"}, "activation"), "");
  EXPECT_EQ(v.status().code(), StatusCode::kProviderError);
}

// OpenStore is the one way to open a bank: paths and sqlite: URLs reach the SQLite store (the
// same file either way), PostgreSQL URLs the PostgreSQL store (or a refusal naming the build
// option), other schemes are named, and a path with a colon in it stays a path.
TEST(OpenStore, PathsAndUrlsReachTheRightStore) {
  TempBank bank;
  {
    auto s = OpenStore(bank.path().string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    MemoryItem m = Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation", "t1"));
    m.id = "open-store-1";
    ASSERT_TRUE((*s)->Insert(m).ok());
  }
  for (const std::string& url : {"sqlite:" + bank.path().string(), "sqlite://" + bank.path().string()}) {
    auto s = OpenStore(url);
    ASSERT_TRUE(s.ok()) << url << ": " << s.status().ToString();
    EXPECT_TRUE((*s)->Get("open-store-1").ok()) << url;
    EXPECT_EQ((*s)->location(), bank.path().string()) << url;
  }
  // Nothing listens on port 1: built with the PostgreSQL store this cannot connect, built
  // without it the URL is refused naming the build option. Either way the password stays out.
  auto pg = OpenStore("postgres://evk:secret-password@127.0.0.1:1/bank?password=secret-password&connect_timeout=5");
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(pg.status().message().find("postgres://evk@127.0.0.1:1/bank?connect_timeout=5"), std::string::npos)
      << pg.status().message();
  EXPECT_EQ(pg.status().message().find("secret-password"), std::string::npos) << "credentials never echoed";
  auto bad = OpenStore("mysql://u:pw@h/db");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'mysql://'"), std::string::npos) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("pw@"), std::string::npos);
  EXPECT_FALSE(OpenStore("").ok());
  EXPECT_FALSE(OpenStore("sqlite:").ok());
  // A relative path with a colon is a file name.
  const auto colon = bank.dir() / "my:bank.sqlite";
  auto c = OpenStore(colon.string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(colon));
}

// ------------------------------------------------------------------------------- both stores

// Two instances (two connections) update one item at once, 200 times each: every update counts,
// in the global value and in the state value.
TEST_P(Store, ConcurrentUpdatesFromTwoInstancesLoseNone) {
  TempBank bank(GetParam());
  auto a = bank.Open(), b = bank.Open();
  ASSERT_TRUE(a && b);
  const std::string id = *a->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  constexpr int kUpdates = 200;
  auto work = [&](MemoryStore* s, double reward, std::string* error) {
    for (int i = 0; i < kUpdates; ++i) {
      Status st = s->ApplyUpdates({{id, Stage::kDraft, reward, 0.2, "activation"}});
      if (!st.ok()) {
        *error = st.ToString();
        return;
      }
    }
  };
  std::string error_a, error_b;
  std::thread ta(work, a.get(), 1.0, &error_a), tb(work, b.get(), -1.0, &error_b);
  ta.join();
  tb.join();
  EXPECT_EQ(error_a, "");
  EXPECT_EQ(error_b, "");
  const MemoryItem m = *b->Get(id);
  EXPECT_EQ(m.visits_draft, 2 * kUpdates);
  ASSERT_EQ(m.state_values.size(), 1u);
  EXPECT_EQ(m.state_values[0].visits, 2 * kUpdates);
  EXPECT_GT(m.q_draft, -1.0);
  EXPECT_LT(m.q_draft, 1.0);
}

// Items with fixed ids and times, so two banks can hold exactly the same ones.
std::vector<MemoryItem> FixedItems() {
  std::vector<MemoryItem> items;
  const std::vector<std::pair<std::string, std::string>> specs = {
      {"matmul", "matmul"}, {"matmul", "matmul"}, {"relu", "activation"}, {"relu", "activation"},
      {"softmax", "softmax"}, {"conv2d", "convolution"}, {"cumsum", "scan"}, {"layernorm", "normalization"}};
  for (size_t i = 0; i < specs.size(); ++i) {
    MemoryItem m = Item(i % 3 ? ItemKind::kTrace : ItemKind::kSummary, i % 2 ? Stage::kRefine : Stage::kDraft,
                        Sig({specs[i].first}, specs[i].second, "task" + std::to_string(i % 4)), specs[i].first + " kernel");
    m.id = fmt::format("m-fixed-{:02}", i);
    m.created_at = 1700000000000 + static_cast<int64_t>(i);
    m.q_draft = 0.1 * static_cast<double>(i) - 0.3;
    m.latency_ms = i % 2 ? std::optional<double>(0.1 + static_cast<double>(i)) : std::nullopt;
    items.push_back(m);
  }
  items.push_back(FullItem());
  return items;
}

// The same items with the same updates give the same export, byte for byte, and the same recall
// (order, ties and similarities) in both stores; an export moves between them unchanged.
TEST(StoresAgree, SameItemsSameExportAndRecall) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank sq("sqlite"), pg("postgres");
  auto s = sq.Open(), p = pg.Open();
  ASSERT_TRUE(s && p);
  for (MemoryStore* store : {s.get(), p.get()}) {
    ASSERT_TRUE(store->InsertMany(FixedItems()).ok());
    ASSERT_TRUE(store->ApplyUpdates({{"m-fixed-01", Stage::kDraft, 1.0, 0.2, "matmul"},
                                     {"m-fixed-01", Stage::kRefine, 0.3, 0.5, "gemm"},
                                     {"m-fixed-02", Stage::kDraft, -1.0, 0.2},
                                     {"m-fixed-01", Stage::kDraft, 1.0, 0.2, "activation"}})
                    .ok());
    ASSERT_TRUE(store->SaveNormaliser(Stage::kRefine, {5, 0.125, 0.75}).ok());
  }
  // The updates were applied at different times in the two banks: the updated_at stamps differ,
  // nothing else may.
  auto strip_times = [](nlohmann::json j) {
    j.erase("updated_at");
    if (j.contains("state_values"))
      for (auto& v : j["state_values"]) v.erase("updated_at");
    return j.dump();
  };
  auto without_times = [&](MemoryStore& store) {
    std::string out;
    std::istringstream in(testing::ExportedItems(store));
    for (std::string line; std::getline(in, line);) out += strip_times(nlohmann::json::parse(line)) + "\n";
    return out;
  };
  EXPECT_EQ(without_times(*p), without_times(*s));
  EXPECT_EQ(*p->LoadNormaliser(Stage::kRefine), *s->LoadNormaliser(Stage::kRefine));
  for (const TaskSignature& sig : {Sig({"matmul"}, "matmul"), Sig({"relu"}, "activation", "task2"), Sig({}, "")}) {
    for (int k : {1, 3, 100}) {
      RecallQuery q;
      q.signature = sig;
      q.k = k;
      auto rs = s->Recall(q), rp = p->Recall(q);
      ASSERT_TRUE(rs.ok() && rp.ok()) << rs.status().ToString() << rp.status().ToString();
      ASSERT_EQ(rp->size(), rs->size());
      for (size_t i = 0; i < rs->size(); ++i) {
        EXPECT_EQ((*rp)[i].item.id, (*rs)[i].item.id) << "k=" << k << " rank " << i;
        EXPECT_EQ((*rp)[i].similarity, (*rs)[i].similarity);
        EXPECT_EQ(strip_times((*rp)[i].item.ToJson()), strip_times((*rs)[i].item.ToJson()));
      }
    }
  }
  // SQLite -> export -> PostgreSQL -> export: byte-identical item lines, and a header that agrees.
  const fs::path file = sq.dir() / "export.jsonl";
  {
    std::ofstream out(file);
    ASSERT_EQ(*s->Export(out), 9);
  }
  TempBank pg2("postgres");
  auto p2 = pg2.Open();
  ASSERT_TRUE(p2);
  ASSERT_EQ(p2->Import(file)->added, 9);
  EXPECT_EQ(testing::ExportedItems(*p2), testing::ExportedItems(*s));
  std::ostringstream out;
  ASSERT_EQ(*p2->Export(out), 9);
  nlohmann::json header = nlohmann::json::parse(out.str().substr(0, out.str().find('\n')));
  nlohmann::json sqlite_header = nlohmann::json::parse(Slurp(file).substr(0, Slurp(file).find('\n')));
  for (const char* key : {"evokernel_memory_export", "schema_version", "embedder", "dim", "items"})
    EXPECT_EQ(header[key], sqlite_header[key]) << key;
  EXPECT_EQ(header["source"], pg2.url());
}

// ------------------------------------------------------------------------------- PostgreSQL bank

// Every row of the bank's tables and the names of every relation of its schema, as one digest.
std::string PgSnapshot(const TempBank& bank) {
  PgTestCluster* c = PgTestCluster::Get();
  return c->Value(bank.dbname(),
                  "SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) FROM ("
                  "SELECT m::text AS t FROM meta m UNION ALL SELECT i::text FROM items i UNION ALL "
                  "SELECT n::text FROM normaliser n UNION ALL SELECT s::text FROM item_state_values s) x") +
         " " +
         c->Value(bank.dbname(),
                  "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = "
                  "'public'::regnamespace");
}

TEST(PostgresSchema, NewBankRecordsVersionAndEmbedder) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  auto store = bank.Open();
  ASSERT_TRUE(store);
  PgTestCluster* c = PgTestCluster::Get();
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT value FROM meta WHERE key='schema_version'"),
            std::to_string(CurrentSchemaVersion()));
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT value FROM meta WHERE key='embedder'"), "structural-v1");
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT value FROM meta WHERE key='embedder_dim'"), "64");
  EXPECT_EQ(store->location(), bank.url());
  EXPECT_EQ(store->Stats()->schema_version, CurrentSchemaVersion());
  // seq grows with every insert and update, as in SQLite (the recall index follows it).
  std::string a = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  std::string b = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  ASSERT_TRUE(store->ApplyUpdates({{a, Stage::kDraft, 1, 0.2}}).ok());
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT seq FROM items WHERE id='" + b + "'"), "2");
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT seq FROM items WHERE id='" + a + "'"), "3");
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT value FROM meta WHERE key='seq'"), "3");
  // Opening again (another host) finds the bank and changes nothing.
  const std::string before = PgSnapshot(bank);
  EXPECT_TRUE(bank.Open());
  EXPECT_EQ(PgSnapshot(bank), before);
}

TEST(PostgresSchema, HostsOpeningANewBankAtOnceCreateItOnce) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  std::vector<std::thread> openers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&] {
      auto s = OpenStore(bank.url());
      if (s.ok()) ++ok;
      else ADD_FAILURE() << s.status().ToString();
    });
  for (auto& t : openers) t.join();
  EXPECT_EQ(ok.load(), 4);
  PgTestCluster* c = PgTestCluster::Get();
  EXPECT_EQ(c->Value(bank.dbname(), "SELECT count(*) FROM meta WHERE key = 'schema_version'"), "1");
}

TEST(PostgresSchema, NewerVersionIsAClearErrorAndLeavesTheBank) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  {
    auto store = bank.Open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Insert(FullItem()).ok());
  }
  ASSERT_EQ(PgTestCluster::Get()->Exec(bank.dbname(), "UPDATE meta SET value='99' WHERE key='schema_version'"), "");
  const std::string before = PgSnapshot(bank);
  for (bool read_only : {false, true}) {
    StoreOptions o;
    o.read_only = read_only;
    auto r = OpenStore(bank.url(), o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("written by a newer evokernel"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(bank.url()), std::string::npos);
  }
  EXPECT_EQ(PgSnapshot(bank), before);
}

// Read-only opens never write: not the schema of an empty database, not a bank's rows; writes
// through them fail and name the bank.
TEST(PostgresSchema, ReadOnlyOpenNeverWritesTheBank) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  StoreOptions ro;
  ro.read_only = true;
  const std::string empty = PgSnapshot(bank);
  auto missing = OpenStore(bank.url(), ro);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_EQ(PgSnapshot(bank), empty);
  EXPECT_EQ(PgTestCluster::Get()->Value(bank.dbname(), "SELECT to_regclass('meta') IS NULL"), "t");
  std::string id;
  {
    auto store = bank.Open();
    ASSERT_TRUE(store);
    FillMixedBank(*store);
    id = *store->Insert(FullItem());
    ASSERT_TRUE(store->ApplyUpdates({{id, Stage::kDraft, 1.0, 0.2, "matmul"}}).ok());
  }
  const std::string before = PgSnapshot(bank);
  {
    auto store = OpenStore(bank.url(), ro);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto stats = (*store)->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->items, 13);
    RecallQuery q;
    q.signature = Sig({"matmul"}, "matmul");
    EXPECT_TRUE((*store)->Recall(q).ok());
    std::ostringstream out;
    EXPECT_EQ(*(*store)->Export(out), 13);
    auto ins = (*store)->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
    ASSERT_FALSE(ins.ok()) << "a read-only store refuses writes";
    EXPECT_NE(ins.status().message().find(bank.url()), std::string::npos) << ins.status().message();
    EXPECT_FALSE((*store)->ApplyUpdates({{id, Stage::kDraft, 1.0, 0.2}}).ok());
    EXPECT_FALSE((*store)->SaveNormaliser(Stage::kDraft, {1, 0.5, 0.25}).ok());
    PruneOptions p;
    p.q_below = 10;
    EXPECT_FALSE((*store)->Prune(p).ok());
  }
  EXPECT_EQ(PgSnapshot(bank), before);
}

TEST(PostgresSchema, MissingBankWithoutCreateAndForeignTables) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  StoreOptions o;
  o.create_if_missing = false;
  const std::string empty = PgSnapshot(bank);
  EXPECT_EQ(OpenStore(bank.url(), o).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(PgSnapshot(bank), empty);
  // A database whose tables are someone else's is refused untouched.
  TempBank foreign("postgres");
  ASSERT_EQ(PgTestCluster::Get()->Exec(foreign.dbname(), "CREATE TABLE items(photo INTEGER); INSERT INTO items VALUES (1)"),
            "");
  const std::string before = PgSnapshot(foreign);
  auto r = OpenStore(foreign.url());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("not an evokernel memory bank"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(foreign.url()), std::string::npos);
  EXPECT_EQ(PgSnapshot(foreign), before);
}

TEST(PostgresSchema, EmbedderMismatchIsAClearError) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  TempBank bank("postgres");
  ASSERT_TRUE(bank.Open());
  StoreOptions o;
  o.embedder = std::make_shared<FakeEmbedder>();
  auto r = OpenStore(bank.url(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  for (const std::string& part : {std::string("structural-v1"), std::string("fake-v1"), bank.url()})
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();

  // A bank built with another embedder opens without one for reading, not for inserting.
  TempBank fake("postgres");
  {
    auto store = fake.Open(o);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))).ok());
    RecallQuery q;
    q.signature = Sig({"relu"}, "activation");
    EXPECT_EQ(store->Recall(q)->size(), 1u);
  }
  auto plain = fake.Open();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->Stats()->items, 1);
  EXPECT_EQ(plain->Stats()->embedder, "fake-v1");
  auto ins = plain->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  ASSERT_FALSE(ins.ok());
  EXPECT_NE(ins.status().message().find("fake-v1"), std::string::npos);
  RecallQuery q;
  EXPECT_FALSE(plain->Recall(q).ok());
}

#ifdef EVOKERNEL_WITH_POSTGRES
// The server ends the store's session between calls, in the middle of a transaction, and for
// good (the database is dropped): each call fails with kUnavailable naming the bank and the
// step, a failed call keeps nothing, and the store reconnects while it can.
TEST(PostgresStore, LostConnectionIsAClearErrorAndChangesNothing) {
  EVK_SKIP_WITHOUT_STORE("postgres");
  PgTestCluster* c = PgTestCluster::Get();
  TempBank bank("postgres");
  auto store = bank.Open();
  ASSERT_TRUE(store);
  const std::string kept = *store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  const std::string sessions = "FROM pg_stat_activity WHERE datname = '" + bank.dbname() + "'";
  auto terminate = [&](const std::string& which) {
    ASSERT_EQ(c->Exec("postgres", "SELECT pg_terminate_backend(pid, 5000) " + sessions + which), "");
  };

  // 1. Between calls.
  terminate("");
  auto got = store->Get(kept);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_NE(got.status().message().find(bank.url()), std::string::npos) << got.status().message();
  EXPECT_NE(got.status().message().find("lost the connection"), std::string::npos) << got.status().message();
  ASSERT_TRUE(store->Get(kept).ok()) << "the next call reconnects";

  // 2. Mid-transaction: another session locks item_state_values, so inserting the batch waits
  // after its first item; then the store's session is ended.
  PGconn* admin = PQconnectdb(bank.url().c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  PQclear(PQexec(admin, "BEGIN; LOCK TABLE item_state_values IN ACCESS EXCLUSIVE MODE"));
  std::vector<MemoryItem> batch = {Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")),
                                   Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))};
  batch[0].id = "m-lost-1";
  batch[1].id = "m-lost-2";
  batch[1].state_values = {{Stage::kDraft, "activation", 0.5, 2, 0}};
  Status result;
  std::thread writer([&] { result = store->InsertMany(batch).status(); });
  bool waiting = false;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = c->Value("postgres", "SELECT count(*) " + sessions + " AND wait_event_type = 'Lock'") == "1";
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(waiting) << "the store's insert never waited for the lock";
  terminate(" AND wait_event_type = 'Lock'");
  writer.join();
  PQclear(PQexec(admin, "ROLLBACK"));
  PQfinish(admin);
  EXPECT_EQ(result.code(), StatusCode::kUnavailable) << result.ToString();
  EXPECT_NE(result.message().find("insert the state values of item m-lost-2"), std::string::npos) << result.message();
  EXPECT_NE(result.message().find("nothing of this call was kept"), std::string::npos) << result.message();
  EXPECT_EQ(store->Get("m-lost-1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Stats()->items, 1);

  // 3. The database is dropped under the store.
  ASSERT_EQ(c->Exec("postgres", "DROP DATABASE " + bank.dbname() + " WITH (FORCE)"), "");
  for (int i = 0; i < 2; ++i) {
    auto r = store->Get(kept);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find(bank.url()), std::string::npos) << r.status().message();
  }
  auto ins = store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation")));
  EXPECT_NE(ins.status().message().find("does not exist"), std::string::npos) << ins.status().message();
}
#endif

TEST(OpenStore, PostgresUrlsAreShownWithoutPasswords) {
  EXPECT_EQ(RedactPostgresUrl("postgres://u:pw@h:5/db"), "postgres://u@h:5/db");
  EXPECT_EQ(RedactPostgresUrl("postgres://u:p@ss@h/db"), "postgres://u@h/db");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u@h/db?password=x&sslmode=require"), "postgresql://u@h/db?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgresql:///db?host=/tmp&PASSWORD=x"), "postgresql:///db?host=/tmp");
  EXPECT_EQ(RedactPostgresUrl("postgresql://h/db?password=x"), "postgresql://h/db");
  EXPECT_EQ(RedactPostgresUrl("postgres://h"), "postgres://h");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:pw@h"), "postgresql://u@h");
}

}  // namespace
}  // namespace evokernel::memory
