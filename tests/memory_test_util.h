// Shared helpers for the memory tests.
#pragma once

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "memory/memory.h"
#include "pg_test_util.h"

namespace evokernel::memory::testing {

inline TaskSignature Sig(std::vector<std::string> ops, std::string category, std::string task_id = "",
                         int level = 1) {
  TaskSignature s;
  s.ops = std::move(ops);
  s.category = std::move(category);
  s.task_id = std::move(task_id);
  s.level = level;
  s.backend = "cpu";
  s.shapes = {{1024, 1024}, {1024, 1024}};
  s.num_inputs = 1;
  return s;
}

inline MemoryItem Item(ItemKind kind, Stage stage, TaskSignature sig, std::string title = "item",
                       std::string content = "// code\n") {
  MemoryItem m;
  m.kind = kind;
  m.stage = stage;
  m.signature = std::move(sig);
  m.backend = "cpu";
  m.title = std::move(title);
  m.content = std::move(content);
  return m;
}

// An item with every field set.
inline MemoryItem FullItem() {
  MemoryItem m = Item(ItemKind::kTrace, Stage::kRefine, Sig({"matmul"}, "matmul", "level1/01_square_matmul"),
                      "blocked matmul", "extern \"C\" void k() {}\n");
  m.id = "m-0123456789abcdef";
  m.outcome = "feasible";
  m.feedback = "speedup 2.1x";
  m.reward = 0.25;
  m.latency_ms = 1.5;
  m.parent_id = "m-fedcba9876543210";
  m.q_draft = 0.5;
  m.q_refine = -0.125;
  m.visits_draft = 3;
  m.visits_refine = 4;
  m.created_at = 1700000000000;
  m.updated_at = 1700000000500;
  m.model = "gpt-x";
  m.run_id = "run-1";
  return m;
}

// A bank in a fresh temporary directory (removed with the object) for `store` "sqlite" (the
// file dir()/bank.sqlite), or for "postgres" a fresh database in the binary's test cluster
// (pg_test_util.h; the caller skips when PgTestCluster::Get() is null). dir() exists for both,
// for the files a test writes (exports).
class TempBank {
 public:
  explicit TempBank(std::string store = "sqlite")
      : store_(std::move(store)), dir_(*MakeTempDir("evokernel-memory-test-")), path_(dir_.path() / "bank.sqlite") {
    if (store_ == "postgres") {
      PgTestCluster* cluster = PgTestCluster::Get();
      EXPECT_NE(cluster, nullptr) << "no PostgreSQL test cluster (the test should have skipped)";
      if (cluster) {
        dbname_ = cluster->CreateDatabase();
        url_ = cluster->Url(dbname_);
      }
    } else {
      url_ = path_.string();
    }
  }
  const std::string& store() const { return store_; }
  // The SQLite file (sqlite only).
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // What OpenStore takes: the file path or the database's URL.
  const std::string& url() const { return url_; }
  // The PostgreSQL database's name (postgres only).
  const std::string& dbname() const { return dbname_; }
  std::unique_ptr<MemoryStore> Open(const StoreOptions& o = {}) const {
    auto s = store_ == "postgres" ? OpenStore(url_, o) : OpenSqliteStore(path_, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

 private:
  std::string store_;
  ScopedDir dir_;
  std::filesystem::path path_;
  std::string url_, dbname_;
};

// Skips the current test (from a fixture's SetUp or a test body) when `store` is "postgres" and
// no test cluster can run here, saying why.
#define EVK_SKIP_WITHOUT_STORE(store)                                                          \
  do {                                                                                         \
    std::string evk_why_;                                                                      \
    if ((store) == std::string("postgres") && !::evokernel::memory::testing::PgTestCluster::Get(&evk_why_)) \
      GTEST_SKIP() << "PostgreSQL tests skipped: " << evk_why_;                                \
  } while (0)

// A value-parameterised fixture over the stores ("sqlite", "postgres"): one test body checks both.
class BothStores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { EVK_SKIP_WITHOUT_STORE(GetParam()); }
};

// The export without its header line (which carries a timestamp).
inline std::string ExportedItems(MemoryStore& store) {
  std::ostringstream out;
  auto n = store.Export(out);
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  std::string s = out.str();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? "" : s.substr(nl + 1);
}

}  // namespace evokernel::memory::testing
