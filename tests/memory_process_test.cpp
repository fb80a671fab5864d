// Memory bank tests that need several processes: concurrent value updates, recall of another
// process's inserts, kill -9 during writes, and the `evokernel memory` CLI end to end.
#include <poll.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/subprocess.h"
#include "memory/memory.h"
#include "memory_test_util.h"
#include "test_util.h"

namespace evokernel::memory {
namespace {

namespace fs = std::filesystem;
using testing::Item;
using testing::Sig;
using testing::TempBank;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Subprocess> Helper(std::vector<std::string> args) {
  SpawnOptions so;
  so.argv = {MEMORY_HELPER};
  so.argv.insert(so.argv.end(), args.begin(), args.end());
  so.pipe_stdin = false;
  auto p = Subprocess::Spawn(so);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

// Reads what is available on fd until `deadline` or EOF; returns false on EOF.
bool ReadSome(int fd, std::string& buf, Clock::time_point deadline) {
  int ms = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return true;
  char tmp[4096];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

std::vector<std::string> CompleteLines(const std::string& buf) {
  std::vector<std::string> out;
  std::istringstream in(buf.substr(0, buf.rfind('\n') == std::string::npos ? 0 : buf.rfind('\n') + 1));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Drain(Subprocess& p, int timeout_s = 120) {
  std::string out;
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline && ReadSome(p.stdout_fd(), out, deadline)) {
  }
  return out;
}

TEST(Processes, ConcurrentValueUpdatesAreNeverLost) {
  TempBank bank;
  std::vector<std::string> ids;
  auto store = bank.Open();
  for (int i = 0; i < 8; ++i) ids.push_back(*store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"relu"}, "activation"))));
  const int kHelperRounds = 150, kOwnRounds = 100;
  std::vector<std::string> args = {"update", bank.path().string(), std::to_string(kHelperRounds), "0.01", "1"};
  args.insert(args.end(), ids.begin(), ids.end());
  auto a = Helper(args);
  auto b = Helper(args);
  ASSERT_TRUE(a && b);
  std::vector<ValueUpdate> ups;
  for (const auto& id : ids) ups.push_back({id, Stage::kDraft, 1.0, 0.01});
  for (int r = 0; r < kOwnRounds; ++r) ASSERT_TRUE(store->ApplyUpdates(ups).ok());
  for (auto* p : {a.get(), b.get()}) {
    std::string out = Drain(*p);
    auto exit = p->Wait(std::chrono::seconds(60));
    ASSERT_TRUE(exit.has_value());
    EXPECT_TRUE(exit->ok()) << exit->Describe() << "\n" << out;
    EXPECT_EQ(out, "ok\n");
  }
  // Q after n updates with reward 1 from Q=0 is 1 - (1 - alpha)^n whatever the order, so a lost
  // update shows in both the visit count and the value.
  const int n = 2 * kHelperRounds + kOwnRounds;
  for (const auto& id : ids) {
    auto m = store->Get(id);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->visits_draft, n) << id;
    EXPECT_NEAR(m->q_draft, 1 - std::pow(0.99, n), 1e-9) << id;
  }
}

TEST(Processes, RecallSeesInsertsAndValuesOfAnotherProcess) {
  TempBank bank;
  auto store = bank.Open();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->Insert(Item(ItemKind::kTrace, Stage::kDraft, Sig({"matmul"}, "matmul", "mm"))).ok());
  RecallQuery q;
  q.signature = Sig({"cumsum"}, "scan");
  q.k = 1;
  ASSERT_TRUE(store->Recall(q).ok());  // the index is loaded now
  auto p = Helper({"insert", bank.path().string(), "scan", "cumsum"});
  ASSERT_TRUE(p);
  std::string out = Drain(*p);
  auto exit = p->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(exit && exit->ok()) << out;
  std::string id = out.substr(0, out.find('\n'));
  auto r = store->Recall(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].item.id, id);
  auto u = Helper({"update", bank.path().string(), "1", "0.5", "1", id});
  Drain(*u);
  ASSERT_TRUE(u->Wait(std::chrono::seconds(60))->ok());
  EXPECT_DOUBLE_EQ((*store->Recall(q))[0].item.q_draft, 0.5);
}

std::string IntegrityCheck(const fs::path& file) {
  sqlite3* db = nullptr;
  std::string out = "cannot open";
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    out = "cannot check";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

std::map<std::string, int> BatchSizes(const fs::path& file) {
  std::map<std::string, int> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT run_id, count(*) FROM items WHERE run_id <> '' GROUP BY run_id", -1, &st,
                           nullptr) == SQLITE_OK)
      while (sqlite3_step(st) == SQLITE_ROW)
        out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

TEST(Processes, KillNineNeverCorruptsOrLosesAReturnedWrite) {
  TempBank bank;
  { auto store = bank.Open(); }
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::set<std::string> confirmed;
  std::set<std::string> confirmed_batches;
  for (int round = 0; round < 6; ++round) {
    auto p = Helper({"writer", bank.path().string(), "r" + std::to_string(round)});
    ASSERT_TRUE(p);
    // Let it write a random number of lines, then kill it at a random moment.
    const size_t want = 5 + rng() % 40;
    std::string out;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (CompleteLines(out).size() < want && Clock::now() < deadline && ReadSome(p->stdout_fd(), out, deadline)) {
    }
    ASSERT_GE(CompleteLines(out).size(), want) << "the writer stopped early:\n" << out;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    ExitInfo exit = p->Kill();
    EXPECT_FALSE(exit.exited);
    EXPECT_EQ(exit.term_signal, SIGKILL);
    // Lines it printed before dying are writes whose call returned.
    out += Drain(*p, 10);
    for (const auto& line : CompleteLines(out)) {
      std::istringstream in(line);
      std::string kind, word;
      in >> kind;
      if (kind == "I") {
        in >> word;
        confirmed.insert(word);
      } else if (kind == "B") {
        in >> word;
        confirmed_batches.insert(word);
        while (in >> word) confirmed.insert(word);
      }
    }
    ASSERT_EQ(IntegrityCheck(bank.path()), "ok") << "after round " << round;
    auto store = OpenSqliteStore(bank.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const auto& id : confirmed) EXPECT_TRUE((*store)->Get(id).ok()) << "lost " << id << " (round " << round << ")";
    // A batch is all or nothing.
    for (const auto& [tag, n] : BatchSizes(bank.path())) EXPECT_EQ(n, 5) << tag;
    for (const auto& tag : confirmed_batches) EXPECT_EQ(BatchSizes(bank.path())[tag], 5) << tag;
    RecallQuery q;
    q.signature = Sig({"matmul"}, "matmul");
    EXPECT_TRUE((*store)->Recall(q).ok());
  }
  EXPECT_GT(confirmed.size(), 20u);
}

// ------------------------------------------------------------------------------- CLI

using evokernel::testing::RunCli;

TEST(Cli, StatsListShowExportImportRoundTrip) {
  TempBank a, b;
  const std::string A = a.path().string(), B = b.path().string();
  const std::string notes = (evokernel::testing::FixturesDir() / "knowledge" / "cpu").string();

  auto r = RunCli({"memory", "stats", "--bank", A});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no memory bank " + A), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(a.path()));

  r = RunCli({"memory", "seed", "--backend", "cpu", "--dir", notes, "--bank", A, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["added"], 4);
  EXPECT_EQ(r.json["notes"], 4);
  r = RunCli({"memory", "seed", "--dir", notes, "--bank", A});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 added, 4 already present"), std::string::npos) << r.out;

  r = RunCli({"memory", "stats", "--bank", A, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["items"], 4);
  EXPECT_EQ(r.json["by_kind"]["knowledge"], 3);
  EXPECT_EQ(r.json["by_kind"]["best_practice"], 1);
  EXPECT_EQ(r.json["embedder"], "structural-v1");
  r = RunCli({"memory", "stats", "--bank", A});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("items      4"), std::string::npos) << r.out;

  r = RunCli({"memory", "list", "--bank", A, "--json", "--kind", "knowledge"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(r.json.is_array());
  ASSERT_EQ(r.json.size(), 3u);
  std::string id = r.json[0]["id"];
  r = RunCli({"memory", "list", "--bank", A});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GEMM on CPU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 item(s)"), std::string::npos) << r.out;

  r = RunCli({"memory", "show", id, "--bank", A, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["id"], id);
  r = RunCli({"memory", "show", id, "--bank", A});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("content:"), std::string::npos);
  r = RunCli({"memory", "show", "m-nonexistent", "--bank", A});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("m-nonexistent"), std::string::npos);

  const std::string file = (a.dir() / "export.jsonl").string();
  r = RunCli({"memory", "export", "-o", file, "--bank", A, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["items"], 4);
  r = RunCli({"memory", "export", "--bank", A});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5);

  r = RunCli({"memory", "import", file, "--bank", B, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["added"], 4);
  EXPECT_EQ(r.json["skipped"], 0);
  r = RunCli({"memory", "import", file, "--bank", B});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 added, 4 skipped"), std::string::npos) << r.out;
  {
    auto sa = a.Open(), sb = b.Open();
    EXPECT_EQ(testing::ExportedItems(*sa), testing::ExportedItems(*sb));
  }

  // A malformed import fails with FILE:LINE, exit 2, and leaves the bank as it was.
  const std::string bad = (b.dir() / "bad.jsonl").string();
  {
    std::ifstream in(file);
    std::string header, item;
    std::getline(in, header);
    std::getline(in, item);
    auto j = nlohmann::json::parse(item);
    j["id"] = "m-new";
    j["visits_refine"] = "three";
    std::ofstream out(bad);
    out << header << "\n" << nlohmann::json::parse(item).dump() << "\n" << j.dump() << "\n";
  }
  r = RunCli({"memory", "import", bad, "--bank", B});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bad + ":3: field 'visits_refine'"), std::string::npos) << r.err;
  r = RunCli({"memory", "stats", "--bank", B, "--json"});
  EXPECT_EQ(r.json["items"], 4);

  r = RunCli({"memory", "prune", "--q-below", "0.5", "--dry-run", "--bank", B, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["pruned"], 0);  // seeded notes are protected
  r = RunCli({"memory", "prune", "--q-below", "0.5", "--include-knowledge", "--bank", B, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.json["pruned"], 4);
  r = RunCli({"memory", "prune", "--bank", B});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("at least one of"), std::string::npos) << r.err;
  r = RunCli({"memory", "list", "--kind", "recipe", "--bank", B});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, BankFromEnvironmentAndForeignFile) {
  TempBank a;
  std::ofstream(a.path()) << "not a database\n";
  auto r = RunCli({"memory", "stats", "--bank", a.path().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not an SQLite database"), std::string::npos) << r.err;
  std::ifstream in(a.path());
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "not a database\n");
  const fs::path env_bank = a.dir() / "env.sqlite";
  setenv("EVOKERNEL_MEMORY", env_bank.c_str(), 1);
  r = RunCli({"memory", "seed", "--dir", (evokernel::testing::FixturesDir() / "knowledge" / "cpu").string()});
  unsetenv("EVOKERNEL_MEMORY");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(env_bank));
}

}  // namespace
}  // namespace evokernel::memory
