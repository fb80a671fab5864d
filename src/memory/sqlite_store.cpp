// The SQLite implementation of MemoryStore.
//
// Durability and concurrency come from SQLite: WAL journal (readers never block the writer),
// synchronous=FULL (a commit is fsynced to the WAL before it returns, so it survives power loss),
// every write in one BEGIN IMMEDIATE transaction (the write lock is taken up front, so a
// transaction never fails half-way on a lock upgrade) retried on SQLITE_BUSY until the busy
// timeout. Value updates are computed by the UPDATE statement itself from the row's current
// value, so two processes updating the same item both count.
//
// Recall keeps a per-process RecallIndex (recall_index.h: row id, kind, stage, backend, task,
// int8 vector), refreshed before each Recall with one indexed query for the rows whose `seq` is
// above the last one seen (every insert and update takes the next value of a counter in meta); a
// prune bumps meta.generation and forces a reload. The index ranks by the int8 dot product, then
// the best candidates are rescored exactly from their float32 vectors, read with their rows in
// the same snapshot. Q values are not cached: they come with the rows, so they
// are always those of the snapshot.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include <fmt/format.h>

#include "common/fs.h"
#include "memory/export_format.h"
#include "memory/memory.h"
#include "memory/recall_index.h"
#include "memory/signature.h"
#include "memory/sqlite_schema.h"
#include "memory/store_support.h"

namespace evokernel::memory {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------- schema

const std::vector<Migration>& BankMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "initial schema: meta, items, normaliser",
       R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE items(
  rid INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  backend TEXT NOT NULL,
  stage TEXT NOT NULL,
  task_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  title TEXT NOT NULL,
  content TEXT NOT NULL,
  outcome TEXT NOT NULL,
  feedback TEXT NOT NULL,
  reward REAL NOT NULL,
  latency_ms REAL,
  parent_id TEXT NOT NULL,
  q_draft REAL NOT NULL,
  q_refine REAL NOT NULL,
  visits_draft INTEGER NOT NULL,
  visits_refine INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  model TEXT NOT NULL,
  run_id TEXT NOT NULL,
  embedding BLOB NOT NULL,
  seq INTEGER NOT NULL);
CREATE INDEX items_seq ON items(seq);
CREATE INDEX items_task ON items(task_id, kind);
CREATE INDEX items_kind ON items(kind, backend);
CREATE INDEX items_parent ON items(parent_id) WHERE parent_id <> '';
CREATE TABLE normaliser(
  stage TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  mean REAL NOT NULL,
  mean_sq REAL NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('seq', '0'), ('generation', '0');
)sql"},
      {2, "per-state values: item_state_values",
       R"sql(
CREATE TABLE item_state_values(
  item_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  state TEXT NOT NULL,
  q REAL NOT NULL,
  visits INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(item_id, stage, state)) WITHOUT ROWID;
)sql"},
  };
  return kMigrations;
}

int CurrentSchemaVersion() { return BankMigrations().back().version; }

Result<int> ReadSchemaVersion(sqlite3* db, const std::string& where) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'",
                              -1, &st, nullptr);
  if (rc != SQLITE_OK) return IoError(where + ": cannot read the schema: " + sqlite3_errmsg(db));
  rc = sqlite3_step(st);
  int64_t has_meta = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return IoError(where + ": cannot read the schema: " + sqlite3_errmsg(db));
  if (!has_meta) return 0;
  rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, nullptr);
  if (rc != SQLITE_OK) return IoError(where + ": cannot read meta: " + sqlite3_errmsg(db));
  rc = sqlite3_step(st);
  std::string v = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return IoError(where + ": meta has no schema_version; this is not an evokernel memory bank");
  if (rc != SQLITE_ROW) return IoError(where + ": cannot read meta: " + sqlite3_errmsg(db));
  char* end = nullptr;
  long version = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || version < 1)
    return IoError(where + ": meta.schema_version is '" + v + "', not a positive integer");
  return static_cast<int>(version);
}

Status ApplyMigrations(sqlite3* db, int from_version, const std::vector<Migration>& migrations,
                       const std::string& where) {
  int expected = 1;
  for (const auto& m : migrations) {
    if (m.version != expected++)
      return Internal(where + ": migrations are not numbered 1, 2, 3, ... (found " +
                      std::to_string(m.version) + ")");
  }
  int last = from_version;
  for (const auto& m : migrations) {
    if (m.version <= from_version) continue;
    char* err = nullptr;
    int rc = sqlite3_exec(db, m.sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return IoError(fmt::format("{}: schema migration {} ({}) failed: {}", where, m.version,
                                 m.description, msg));
    }
    last = m.version;
  }
  if (last == from_version) return Status::Ok();
  std::string sql = fmt::format(
      "INSERT INTO meta(key, value) VALUES ('schema_version', '{}') "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", last);
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return IoError(where + ": cannot record schema version " + std::to_string(last) + ": " + msg);
  }
  return Status::Ok();
}

namespace {

// ------------------------------------------------------------------------------- helpers

bool IsBusy(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

using Value = std::variant<int64_t, double, std::string>;

// A cached prepared statement in use: reset and unbound when it goes out of scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  sqlite3_stmt* get() const { return s_; }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
  }
  void BindNull(int i) { sqlite3_bind_null(s_, i); }
  void Bind(int i, const Value& v) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>)
            Bind(i, std::string_view(x));
          else
            Bind(i, x);
        },
        v);
  }
  int Step() { return sqlite3_step(s_); }
  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
  double Double(int c) const { return sqlite3_column_double(s_, c); }
  bool IsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string Text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, c)) : "";
  }
  std::string_view Blob(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    return p ? std::string_view(static_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : std::string_view();
  }

 private:
  sqlite3_stmt* s_;
};

constexpr const char* kItemColumns =
    "id, kind, backend, stage, signature, title, content, outcome, feedback, reward, latency_ms, "
    "parent_id, q_draft, q_refine, visits_draft, visits_refine, created_at, updated_at, model, "
    "run_id";
constexpr int kItemColumnCount = 20;

std::string QColumn(Stage s) { return s == Stage::kRefine ? "q_refine" : "q_draft"; }

// ------------------------------------------------------------------------------- the store

class SqliteStore final : public MemoryStore {
 public:
  SqliteStore(sqlite3* db, fs::path path, StoreOptions options)
      : db_(db), path_(std::move(path)), opt_(std::move(options)), rng_(SeededIdGenerator()) {}

  ~SqliteStore() override {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
  }

  Status Init();
  // The bank's embedder from meta, checked against the configured one; the recall index reset.
  Status ReadMetaAndCheckEmbedder();

  std::string location() const override { return path_.string(); }

  Result<std::string> Insert(MemoryItem item) override {
    std::vector<MemoryItem> one;
    one.push_back(std::move(item));
    EVK_ASSIGN_OR_RETURN(InsertReport r, InsertMany(std::move(one), false));
    return r.ids.front();
  }

  Result<InsertReport> InsertMany(std::vector<MemoryItem> items, bool skip_existing) override;
  Result<MemoryItem> Get(std::string_view id) override;
  Status ApplyUpdates(const std::vector<ValueUpdate>& updates) override;
  Result<bool> Commit(std::vector<MemoryItem> items, const std::vector<ValueUpdate>& updates) override;
  Result<std::vector<ScoredItem>> Recall(const RecallQuery& query) override;
  Result<std::vector<MemoryItem>> List(const ListFilter& filter) override;
  Result<BankStats> Stats() override;
  Result<NormaliserState> LoadNormaliser(Stage stage) override;
  Status SaveNormaliser(Stage stage, const NormaliserState& state) override;
  Result<int64_t> Export(std::ostream& out) override;
  Result<ImportReport> Import(const fs::path& file) override;
  Result<int64_t> Prune(const PruneOptions& options) override;

 private:
  std::string where() const { return "memory bank " + path_.string(); }
  // The value updates, inside an open write transaction.
  Status UpdatesInTxn(const std::vector<ValueUpdate>& updates);

  Status Sql(int rc, std::string_view what) const {
    std::string detail = fmt::format("{}: {}: {} (SQLite error {})", where(), what, sqlite3_errmsg(db_), rc);
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return TimeoutError(detail + "; another process held the bank for longer than the busy timeout (" +
                            std::to_string(opt_.busy_timeout_ms) + " ms)");
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        return IoError(detail + "; the bank file is corrupt: restore it from an export (evokernel memory "
                                "import) or move it away");
      case SQLITE_FULL:
        return IoError(detail + " (disk full)");
      default:
        return IoError(detail);
    }
  }

  int Exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

  Result<Stmt> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return Stmt(it->second);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) return Sql(rc, "prepare");
    cache_.emplace(sql, st);
    return Stmt(st);
  }

  void Backoff(int attempt) {
    int ms = std::min(50, 1 << std::min(attempt, 5));
    std::uniform_int_distribution<int> jitter(0, ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + jitter(rng_)));
  }

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, retrying on SQLITE_BUSY until the busy
  // timeout. `body` must be safe to run again (it is, when a BUSY commit is retried).
  Status WriteTxn(std::string_view what, const std::function<Status()>& body) {
    auto deadline = Clock::now() + std::chrono::milliseconds(opt_.busy_timeout_ms);
    for (int attempt = 0;; ++attempt) {
      int rc = Exec("BEGIN IMMEDIATE");
      if (IsBusy(rc) && Clock::now() < deadline) {
        Backoff(attempt);
        continue;
      }
      if (rc != SQLITE_OK) return Sql(rc, std::string(what) + ": begin");
      Status st = body();
      if (!st.ok()) {
        Exec("ROLLBACK");
        return st;
      }
      rc = Exec("COMMIT");
      if (rc == SQLITE_OK) return Status::Ok();
      Status failed = Sql(rc, std::string(what) + ": commit");
      Exec("ROLLBACK");
      if (IsBusy(rc) && Clock::now() < deadline) {
        Backoff(attempt);
        continue;
      }
      return failed;
    }
  }

  // A read snapshot: BEGIN (deferred) ... COMMIT, retried on SQLITE_BUSY (WAL recovery) unless
  // `retry` is false (the body has effects outside the database, like Export's output).
  Status ReadTxn(std::string_view what, const std::function<Status()>& body, bool retry = true) {
    auto deadline = Clock::now() + std::chrono::milliseconds(opt_.busy_timeout_ms);
    for (int attempt = 0;; ++attempt) {
      int rc = Exec("BEGIN");
      if (rc != SQLITE_OK) return Sql(rc, std::string(what) + ": begin");
      Status st = body();
      Exec("COMMIT");
      if (retry && !st.ok() && st.code() == StatusCode::kTimeout && Clock::now() < deadline) {
        Backoff(attempt);
        continue;
      }
      return st;
    }
  }

  Result<std::string> MetaValue(const std::string& key) {
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT value FROM meta WHERE key = ?1"));
    st.Bind(1, std::string_view(key));
    int rc = st.Step();
    if (rc == SQLITE_ROW) return st.Text(0);
    if (rc == SQLITE_DONE) return std::string();
    return Sql(rc, "read meta." + key);
  }

  Result<int64_t> MetaInt(const std::string& key) {
    EVK_ASSIGN_OR_RETURN(std::string v, MetaValue(key));
    if (v.empty()) return int64_t{0};
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (*end) return IoError(where() + ": meta." + key + " is '" + v + "', not an integer");
    return static_cast<int64_t>(x);
  }

  Status SetMeta(const std::string& key, const std::string& value) {
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2) "
                                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    st.Bind(1, std::string_view(key));
    st.Bind(2, std::string_view(value));
    int rc = st.Step();
    return rc == SQLITE_DONE ? Status::Ok() : Sql(rc, "write meta." + key);
  }

  Result<int64_t> CountItems() {
    EVK_ASSIGN_OR_RETURN(Stmt c, Prepare("SELECT count(*) FROM items"));
    int rc = c.Step();
    if (rc != SQLITE_ROW) return Sql(rc, "count items");
    return c.Int(0);
  }

  Result<MemoryItem> ReadItem(const Stmt& st, int first_col = 0) const {
    MemoryItem m;
    int c = first_col;
    m.id = st.Text(c++);
    std::string kind = st.Text(c++);
    auto k = ParseItemKind(kind);
    if (!k.ok()) return IoError(where() + ": item " + m.id + ": " + k.status().message());
    m.kind = *k;
    m.backend = st.Text(c++);
    auto s = ParseStage(st.Text(c++));
    if (!s.ok()) return IoError(where() + ": item " + m.id + ": " + s.status().message());
    m.stage = *s;
    std::string sig = st.Text(c++);
    nlohmann::json sj = nlohmann::json::parse(sig, nullptr, false);
    auto parsed = sj.is_discarded() ? Result<TaskSignature>(InvalidArgument("not JSON"))
                                    : TaskSignature::FromJson(sj);
    if (!parsed.ok())
      return IoError(where() + ": item " + m.id + " has a malformed signature: " + parsed.status().message());
    m.signature = std::move(parsed).value();
    m.title = st.Text(c++);
    m.content = st.Text(c++);
    m.outcome = st.Text(c++);
    m.feedback = st.Text(c++);
    m.reward = st.Double(c++);
    if (!st.IsNull(c)) m.latency_ms = st.Double(c);
    ++c;
    m.parent_id = st.Text(c++);
    m.q_draft = st.Double(c++);
    m.q_refine = st.Double(c++);
    m.visits_draft = st.Int(c++);
    m.visits_refine = st.Int(c++);
    m.created_at = st.Int(c++);
    m.updated_at = st.Int(c++);
    m.model = st.Text(c++);
    m.run_id = st.Text(c++);
    return m;
  }

  // The item's per-state values, read in the caller's snapshot.
  Status FillStateValues(MemoryItem& m) {
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT stage, state, q, visits, updated_at FROM item_state_values "
                                          "WHERE item_id = ?1 ORDER BY stage, state"));
    st.Bind(1, std::string_view(m.id));
    m.state_values.clear();
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      StateValue v;
      auto stage = ParseStage(st.Text(0));
      if (!stage.ok() || *stage == Stage::kAny)
        return IoError(where() + ": item " + m.id + " has a state value of unknown stage '" + st.Text(0) + "'");
      v.stage = *stage;
      v.state = st.Text(1);
      v.q = st.Double(2);
      v.visits = st.Int(3);
      v.updated_at = st.Int(4);
      m.state_values.push_back(std::move(v));
    }
    return rc == SQLITE_DONE ? Status::Ok() : Sql(rc, "read the state values of item " + m.id);
  }

  Result<MemoryItem> ReadFullItem(const Stmt& st) {
    EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadItem(st));
    EVK_RETURN_IF_ERROR(FillStateValues(m));
    return m;
  }

  Status RequireEmbedder(std::string_view what) const {
    return memory::RequireEmbedder(embedder_.get(), what, bank_embedder_, bank_dim_, where());
  }

  // Validates items, assigns ids and timestamps, and computes their embeddings.
  Result<std::vector<std::string>> Prepared(std::vector<MemoryItem>& items);
  Status InsertPrepared(const std::vector<MemoryItem>& items, const std::vector<std::string>& blobs,
                        bool skip_existing, InsertReport& report);
  Status RefreshIndex();
  Status LoadRows(Stmt& st, bool full);

  sqlite3* db_;
  fs::path path_;
  StoreOptions opt_;
  std::shared_ptr<const Embedder> embedder_;
  std::string bank_embedder_;
  int bank_dim_ = 0;
  int schema_version_ = 0;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  // The recall index and what it was last refreshed to: loaded at the first recall (and again
  // when meta.generation changes), then appended to with the rows whose seq is above last_seq.
  RecallIndex index_;
  bool index_loaded_ = false;
  int64_t index_generation_ = -1;
  int64_t index_last_seq_ = 0;
};

Status SqliteStore::Init() {
  sqlite3_busy_timeout(db_, opt_.busy_timeout_ms);
  // Reads first: nothing is written until the file is known to be a bank (or empty).
  int version = 0;
  Status read = ReadTxn("open", [&]() -> Status {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT name FROM sqlite_master WHERE type='table'", -1, &st, nullptr);
    if (rc != SQLITE_OK) return Sql(rc, "read the schema");
    std::unordered_set<std::string> tables;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      tables.insert(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Sql(rc, "read the schema");
    if (!tables.empty() && !tables.count("meta"))
      return IoError(where() + " is an SQLite database but not an evokernel memory bank (it has no "
                               "meta table); it was left untouched. Choose another file with --bank");
    EVK_ASSIGN_OR_RETURN(version, ReadSchemaVersion(db_, where()));
    return Status::Ok();
  });
  EVK_RETURN_IF_ERROR(read);
  if (version > CurrentSchemaVersion())
    return Unavailable(fmt::format(
        "{} has schema version {}, but this evokernel knows versions up to {}: the bank was "
        "written by a newer evokernel. Use that version (or export the bank with it and import "
        "the export here)", where(), version, CurrentSchemaVersion()));

  if (opt_.read_only) {
    if (version < CurrentSchemaVersion())
      return Unavailable(fmt::format("{} has schema version {} and needs migrating to {} before it can be read; "
                                     "any command that writes to it does that (evokernel memory seed --bank ...)",
                                     where(), version, CurrentSchemaVersion()));
    return ReadMetaAndCheckEmbedder();
  }
  // Before the first write (even the journal mode lives in the file's header), an existing bank
  // is checked when asked to, when it is not yet in WAL mode, or when it needs migrating, so a
  // corrupt file is refused untouched.
  auto check = [&](const char* what) -> Status {
    char* err = nullptr;
    std::string result;
    int qrc = sqlite3_exec(
        db_, "PRAGMA quick_check(1)",
        [](void* out, int, char** v, char**) {
          *static_cast<std::string*>(out) = v[0] ? v[0] : "";
          return 0;
        },
        &result, &err);
    sqlite3_free(err);
    if (qrc != SQLITE_OK) return Sql(qrc, what);
    if (result != "ok")
      return IoError(where() + " is corrupt (" + result + "); it was left untouched. Restore it from an export or "
                               "move it away");
    return Status::Ok();
  };
  // WAL: readers and the writer do not block each other; it is a property of the file.
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &st, nullptr);
  std::string mode;
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  const bool checked = version > 0 && (opt_.check_integrity || mode != "wal" || version < CurrentSchemaVersion());
  if (checked) EVK_RETURN_IF_ERROR(check("check the bank before writing to it"));
  if (mode != "wal") {
    char* err = nullptr;
    rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) return Sql(rc, "switch to WAL");
  }
  // FULL: the WAL is fsynced at every commit, so a returned write survives power loss.
  rc = Exec("PRAGMA synchronous=FULL");
  if (rc != SQLITE_OK) return Sql(rc, "set synchronous=FULL");

  std::shared_ptr<const Embedder> wanted = opt_.embedder ? opt_.embedder : MakeStructuralEmbedder();
  if (version < CurrentSchemaVersion()) {
    // (An existing bank was checked above, before anything was written to it.)
    EVK_RETURN_IF_ERROR(WriteTxn("migrate the schema", [&]() -> Status {
      // Another process may have migrated it meanwhile.
      EVK_ASSIGN_OR_RETURN(int now, ReadSchemaVersion(db_, where()));
      if (now > CurrentSchemaVersion())
        return Unavailable(where() + " was just migrated by a newer evokernel");
      EVK_RETURN_IF_ERROR(ApplyMigrations(db_, now, BankMigrations(), where()));
      EVK_ASSIGN_OR_RETURN(std::string recorded, MetaValue("embedder"));
      if (recorded.empty()) {
        EVK_RETURN_IF_ERROR(SetMeta("embedder", wanted->name()));
        EVK_RETURN_IF_ERROR(SetMeta("embedder_dim", std::to_string(wanted->dim())));
        EVK_RETURN_IF_ERROR(SetMeta("created_at", std::to_string(NowMs())));
      }
      return Status::Ok();
    }));
  }
  return ReadMetaAndCheckEmbedder();
}

Status SqliteStore::ReadMetaAndCheckEmbedder() {
  schema_version_ = CurrentSchemaVersion();
  Status meta = ReadTxn("open", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(bank_embedder_, MetaValue("embedder"));
    EVK_ASSIGN_OR_RETURN(int64_t dim, MetaInt("embedder_dim"));
    bank_dim_ = static_cast<int>(dim);
    return Status::Ok();
  });
  EVK_RETURN_IF_ERROR(meta);
  if (bank_embedder_.empty() || bank_dim_ < 1)
    return IoError(where() + ": meta does not record the embedder; the bank is damaged");
  EVK_ASSIGN_OR_RETURN(embedder_, ResolveBankEmbedder(opt_, bank_embedder_, bank_dim_, where()));
  index_.Clear(bank_dim_);
  index_loaded_ = false;
  return Status::Ok();
}

Result<std::vector<std::string>> SqliteStore::Prepared(std::vector<MemoryItem>& items) {
  EVK_RETURN_IF_ERROR(RequireEmbedder("inserting items"));
  EVK_RETURN_IF_ERROR(ValidateAndStampItems(items, where(), NowMs(), rng_));
  return EmbedItems(*embedder_, bank_dim_, items);
}

Status SqliteStore::InsertPrepared(const std::vector<MemoryItem>& items, const std::vector<std::string>& blobs,
                                   bool skip_existing, InsertReport& report) {
  report = InsertReport();
  EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
  EVK_ASSIGN_OR_RETURN(
      Stmt st,
      Prepare("INSERT INTO items(id, kind, backend, stage, task_id, signature, title, content, outcome, "
              "feedback, reward, latency_ms, parent_id, q_draft, q_refine, visits_draft, visits_refine, "
              "created_at, updated_at, model, run_id, embedding, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
              "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23) "
              "ON CONFLICT(id) DO NOTHING"));
  for (size_t i = 0; i < items.size(); ++i) {
    const MemoryItem& m = items[i];
    st.Bind(1, std::string_view(m.id));
    st.Bind(2, ItemKindName(m.kind));
    st.Bind(3, std::string_view(m.backend));
    st.Bind(4, StageName(m.stage));
    st.Bind(5, std::string_view(m.signature.task_id));
    st.Bind(6, std::string_view(m.signature.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    st.Bind(7, std::string_view(m.title));
    st.Bind(8, std::string_view(m.content));
    st.Bind(9, std::string_view(m.outcome));
    st.Bind(10, std::string_view(m.feedback));
    st.Bind(11, m.reward);
    if (m.latency_ms)
      st.Bind(12, *m.latency_ms);
    else
      st.BindNull(12);
    st.Bind(13, std::string_view(m.parent_id));
    st.Bind(14, m.q_draft);
    st.Bind(15, m.q_refine);
    st.Bind(16, m.visits_draft);
    st.Bind(17, m.visits_refine);
    st.Bind(18, m.created_at);
    st.Bind(19, m.updated_at);
    st.Bind(20, std::string_view(m.model));
    st.Bind(21, std::string_view(m.run_id));
    st.BindBlob(22, blobs[i].data(), blobs[i].size());
    st.Bind(23, seq + 1);
    int rc = st.Step();
    sqlite3_reset(st.get());
    if (rc != SQLITE_DONE) return Sql(rc, "insert item " + m.id);
    if (sqlite3_changes(db_) == 0) {
      if (!skip_existing)
        return InvalidArgument(where() + ": an item with id '" + m.id + "' already exists; nothing was inserted");
      ++report.skipped;
      continue;
    }
    ++seq;
    report.ids.push_back(m.id);
    if (!m.state_values.empty()) {
      EVK_ASSIGN_OR_RETURN(Stmt sv, Prepare("INSERT INTO item_state_values(item_id, stage, state, q, visits, updated_at) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      for (const StateValue& v : m.state_values) {
        sv.Bind(1, std::string_view(m.id));
        sv.Bind(2, StageName(v.stage));
        sv.Bind(3, std::string_view(v.state));
        sv.Bind(4, v.q);
        sv.Bind(5, v.visits);
        sv.Bind(6, v.updated_at ? v.updated_at : m.updated_at);
        rc = sv.Step();
        sqlite3_reset(sv.get());
        if (rc != SQLITE_DONE) return Sql(rc, "insert the state values of item " + m.id);
      }
    }
  }
  return SetMeta("seq", std::to_string(seq));
}

Result<InsertReport> SqliteStore::InsertMany(std::vector<MemoryItem> items, bool skip_existing) {
  if (items.empty()) return InsertReport();
  EVK_ASSIGN_OR_RETURN(auto blobs, Prepared(items));
  InsertReport report;
  EVK_RETURN_IF_ERROR(WriteTxn("insert", [&] { return InsertPrepared(items, blobs, skip_existing, report); }));
  return report;
}

Result<MemoryItem> SqliteStore::Get(std::string_view id) {
  MemoryItem m;
  Status st = ReadTxn("get", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(Stmt row, Prepare(std::string("SELECT ") + kItemColumns + " FROM items WHERE id = ?1"));
    row.Bind(1, id);
    int rc = row.Step();
    if (rc == SQLITE_DONE) return NotFound(where() + " has no item '" + std::string(id) + "'");
    if (rc != SQLITE_ROW) return Sql(rc, "read item " + std::string(id));
    EVK_ASSIGN_OR_RETURN(m, ReadFullItem(row));
    return Status::Ok();
  });
  EVK_RETURN_IF_ERROR(st);
  return m;
}

Status SqliteStore::ApplyUpdates(const std::vector<ValueUpdate>& updates) {
  EVK_RETURN_IF_ERROR(ValidateUpdates(updates, where()));
  if (updates.empty()) return Status::Ok();
  return WriteTxn("update values", [&]() -> Status { return UpdatesInTxn(updates); });
}

Result<bool> SqliteStore::Commit(std::vector<MemoryItem> items, const std::vector<ValueUpdate>& updates) {
  EVK_RETURN_IF_ERROR(ValidateUpdates(updates, where()));
  if (items.empty()) return InvalidArgument(where() + ": commit without items");
  if (items.front().id.empty()) return InvalidArgument(where() + ": commit needs a caller-chosen id for its first item");
  EVK_ASSIGN_OR_RETURN(auto blobs, Prepared(items));
  bool applied = false;
  EVK_RETURN_IF_ERROR(WriteTxn("commit", [&]() -> Status {
    applied = false;
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT 1 FROM items WHERE id = ?1"));
    st.Bind(1, std::string_view(items.front().id));
    int rc = st.Step();
    if (rc == SQLITE_ROW) return Status::Ok();  // committed before: change nothing
    if (rc != SQLITE_DONE) return Sql(rc, "look up item " + items.front().id);
    InsertReport report;
    EVK_RETURN_IF_ERROR(InsertPrepared(items, blobs, false, report));
    EVK_RETURN_IF_ERROR(UpdatesInTxn(updates));
    applied = true;
    return Status::Ok();
  }));
  return applied;
}

Status SqliteStore::UpdatesInTxn(const std::vector<ValueUpdate>& updates) {
  if (updates.empty()) return Status::Ok();
  int64_t now = NowMs();
  {
    EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
    for (const auto& u : updates) {
      std::string q = QColumn(u.stage);
      std::string visits = u.stage == Stage::kRefine ? "visits_refine" : "visits_draft";
      if (!u.state.empty()) {
        // The state's value first: a state the item has not met starts from the item's global
        // value before this update, the value a category scope ranked it by.
        EVK_ASSIGN_OR_RETURN(
            Stmt sv, Prepare(fmt::format("INSERT INTO item_state_values(item_id, stage, state, q, visits, updated_at) "
                                         "SELECT id, ?5, ?6, {0} + ?1 * (?2 - {0}), 1, ?3 FROM items WHERE id = ?4 "
                                         "ON CONFLICT(item_id, stage, state) DO UPDATE SET q = q + ?1 * (?2 - q), "
                                         "visits = visits + 1, updated_at = excluded.updated_at", q)));
        sv.Bind(1, u.alpha);
        sv.Bind(2, u.reward);
        sv.Bind(3, now);
        sv.Bind(4, std::string_view(u.id));
        sv.Bind(5, StageName(u.stage));
        sv.Bind(6, std::string_view(u.state));
        int rc = sv.Step();
        if (rc != SQLITE_DONE) return Sql(rc, "update the state value of item " + u.id);
      }
      // Computed from the row's current value inside the write transaction: concurrent updates
      // from other processes are serialised and compose, none is lost.
      EVK_ASSIGN_OR_RETURN(Stmt st, Prepare(fmt::format("UPDATE items SET {0} = {0} + ?1 * (?2 - {0}), {1} = {1} + 1, "
                                                        "updated_at = ?3, seq = ?4 WHERE id = ?5", q, visits)));
      st.Bind(1, u.alpha);
      st.Bind(2, u.reward);
      st.Bind(3, now);
      st.Bind(4, ++seq);
      st.Bind(5, std::string_view(u.id));
      int rc = st.Step();
      if (rc != SQLITE_DONE) return Sql(rc, "update item " + u.id);
      if (sqlite3_changes(db_) == 0)
        return NotFound(where() + " has no item '" + u.id + "'; no value was updated");
    }
    return SetMeta("seq", std::to_string(seq));
  }
}

Status SqliteStore::LoadRows(Stmt& st, bool full) {
  const int dim = index_.dim();
  int rc;
  std::vector<float> v(dim);
  while ((rc = st.Step()) == SQLITE_ROW) {
    int64_t rid = st.Int(0);
    if (!full && !index_.empty() && rid <= index_.last_rid()) continue;  // a value update
    std::string_view blob = st.Blob(5);
    if (blob.size() != static_cast<size_t>(dim) * sizeof(float))
      return IoError(fmt::format("{}: row {} has a {}-byte embedding, expected {} floats", where(), rid,
                                 blob.size(), dim));
    auto kind = ParseItemKind(st.Text(1));
    auto stage = ParseStage(st.Text(3));
    if (!kind.ok() || !stage.ok()) return IoError(fmt::format("{}: row {} has an unknown kind or stage", where(), rid));
    std::memcpy(v.data(), blob.data(), blob.size());
    Status added = index_.Append(rid, *kind, *stage, st.Text(2), st.Text(4), v);
    if (!added.ok()) return IoError(where() + ": " + added.message());
  }
  if (rc != SQLITE_DONE) return Sql(rc, "load the recall index");
  return Status::Ok();
}

// Must run inside a read transaction.
Status SqliteStore::RefreshIndex() {
  EVK_ASSIGN_OR_RETURN(int64_t generation, MetaInt("generation"));
  EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
  if (!index_loaded_ || generation != index_generation_) {
    index_.Clear(bank_dim_);
    index_loaded_ = false;
    EVK_ASSIGN_OR_RETURN(int64_t count, CountItems());
    index_.Reserve(static_cast<size_t>(count));
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT rid, kind, backend, stage, task_id, embedding FROM items ORDER BY rid"));
    EVK_RETURN_IF_ERROR(LoadRows(st, true));
    index_loaded_ = true;
    index_generation_ = generation;
  } else if (seq > index_last_seq_) {
    // New rows have row ids above every indexed one (AUTOINCREMENT, writers serialised); rows
    // that only had their values updated are skipped (values are read with the rows).
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT rid, kind, backend, stage, task_id, "
                                          "CASE WHEN rid > ?2 THEN embedding END FROM items "
                                          "WHERE seq > ?1 ORDER BY rid"));
    st.Bind(1, index_last_seq_);
    st.Bind(2, index_.last_rid());
    EVK_RETURN_IF_ERROR(LoadRows(st, false));
  }
  index_last_seq_ = seq;
  return Status::Ok();
}

Result<std::vector<ScoredItem>> SqliteStore::Recall(const RecallQuery& q) {
  EVK_RETURN_IF_ERROR(RequireEmbedder("recall"));
  EVK_ASSIGN_OR_RETURN(RecallPlan plan, PlanRecall(q, *embedder_, bank_dim_, where()));
  const std::vector<float>& qv = plan.vector;
  const RecallFilter& filter = plan.filter;

  std::vector<ScoredItem> out;
  Status st = ReadTxn("recall", [&]() -> Status {
    out.clear();
    EVK_RETURN_IF_ERROR(RefreshIndex());
    const std::vector<RecallCandidate> candidates = index_.Candidates(qv, filter, q.k);
    // Exact rescoring from the stored float vectors, with the rows themselves.
    EVK_ASSIGN_OR_RETURN(Stmt row, Prepare(std::string("SELECT ") + kItemColumns + ", embedding FROM items WHERE rid = ?1"));
    std::vector<std::pair<ScoredItem, int64_t>> scored;
    scored.reserve(candidates.size());
    for (const RecallCandidate& c : candidates) {
      row.Bind(1, c.rid);
      int rc = row.Step();
      if (rc == SQLITE_DONE) {
        sqlite3_reset(row.get());
        continue;
      }
      if (rc != SQLITE_ROW) return Sql(rc, "read recalled item");
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadItem(row));
      std::string_view blob = row.Blob(kItemColumnCount);
      std::vector<float> v(blob.size() / sizeof(float));
      std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
      sqlite3_reset(row.get());
      double sim = Dot(qv, v);
      scored.push_back({ScoredItem{std::move(m), sim}, c.rid});
    }
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
      if (a.first.similarity != b.first.similarity) return a.first.similarity > b.first.similarity;
      return a.second < b.second;
    });
    if (scored.size() > static_cast<size_t>(q.k)) scored.resize(q.k);
    for (auto& s : scored) {
      EVK_RETURN_IF_ERROR(FillStateValues(s.first.item));
      out.push_back(std::move(s.first));
    }
    return Status::Ok();
  });
  EVK_RETURN_IF_ERROR(st);
  return out;
}

Result<std::vector<MemoryItem>> SqliteStore::List(const ListFilter& f) {
  if (f.q_stage == Stage::kAny && (f.min_q || f.max_q || f.order == ListOrder::kQDesc || f.order == ListOrder::kQAsc))
    return InvalidArgument("list: the Q stage must be draft or refine");
  if (f.limit < 0) return InvalidArgument("list: limit must be >= 0");
  std::string sql = std::string("SELECT ") + kItemColumns + " FROM items WHERE 1";
  std::vector<Value> args;
  auto add = [&](const std::string& cond, Value v) {
    args.push_back(std::move(v));
    sql += fmt::format(" AND {} ?{}", cond, args.size());
  };
  std::string qc = QColumn(f.q_stage);
  if (f.kind) add("kind =", std::string(ItemKindName(*f.kind)));
  if (!f.backend.empty()) add("backend =", f.backend);
  if (!f.task_id.empty()) add("task_id =", f.task_id);
  if (!f.outcome.empty()) add("outcome =", f.outcome);
  if (!f.parent_id.empty()) add("parent_id =", f.parent_id);
  if (f.stage) add("stage =", std::string(StageName(*f.stage)));
  if (f.min_q) add(qc + " >=", *f.min_q);
  if (f.max_q) add(qc + " <=", *f.max_q);
  switch (f.order) {
    case ListOrder::kNewest: sql += " ORDER BY created_at DESC, rid DESC"; break;
    case ListOrder::kOldest: sql += " ORDER BY created_at ASC, rid ASC"; break;
    case ListOrder::kQDesc: sql += " ORDER BY " + qc + " DESC, rid ASC"; break;
    case ListOrder::kQAsc: sql += " ORDER BY " + qc + " ASC, rid ASC"; break;
  }
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  std::vector<MemoryItem> out;
  Status st = ReadTxn("list", [&]() -> Status {
    out.clear();
    EVK_ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
    for (size_t i = 0; i < args.size(); ++i) s.Bind(static_cast<int>(i + 1), args[i]);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadFullItem(s));
      out.push_back(std::move(m));
    }
    return rc == SQLITE_DONE ? Status::Ok() : Sql(rc, "list items");
  });
  EVK_RETURN_IF_ERROR(st);
  return out;
}

Result<BankStats> SqliteStore::Stats() {
  BankStats s;
  s.location = path_.string();
  s.schema_version = schema_version_;
  s.embedder = bank_embedder_;
  s.dim = bank_dim_;
  Status st = ReadTxn("stats", [&]() -> Status {
    s.by_kind.clear();
    s.by_backend.clear();
    s.by_stage.clear();
    s.by_outcome.clear();
    EVK_ASSIGN_OR_RETURN(s.items, CountItems());
    for (const char* col : {"kind", "backend", "stage", "outcome"}) {
      auto& m = std::string(col) == "kind" ? s.by_kind
                : std::string(col) == "backend" ? s.by_backend
                : std::string(col) == "stage" ? s.by_stage : s.by_outcome;
      EVK_ASSIGN_OR_RETURN(Stmt g, Prepare(fmt::format("SELECT {0}, count(*) FROM items GROUP BY {0}", col)));
      int rc;
      while ((rc = g.Step()) == SQLITE_ROW) {
        std::string key = g.Text(0);
        m[key.empty() ? "(none)" : key] = g.Int(1);
      }
      if (rc != SQLITE_DONE) return Sql(rc, "count items by " + std::string(col));
    }
    for (Stage stage : {Stage::kDraft, Stage::kRefine}) {
      std::string q = QColumn(stage);
      std::string visits = stage == Stage::kRefine ? "visits_refine" : "visits_draft";
      EVK_ASSIGN_OR_RETURN(Stmt v, Prepare(fmt::format("SELECT {} FROM items WHERE {} > 0", q, visits)));
      std::vector<double> values;
      int rc;
      while ((rc = v.Step()) == SQLITE_ROW) values.push_back(v.Double(0));
      if (rc != SQLITE_DONE) return Sql(rc, "read values");
      (stage == Stage::kDraft ? s.q_draft : s.q_refine) = SummariseValues(std::move(values));
    }
    EVK_ASSIGN_OR_RETURN(Stmt sv, Prepare("SELECT count(*) FROM item_state_values"));
    int rc = sv.Step();
    if (rc != SQLITE_ROW) return Sql(rc, "count state values");
    s.state_values = sv.Int(0);
    return Status::Ok();
  });
  EVK_RETURN_IF_ERROR(st);
  std::error_code ec;
  for (const char* suffix : {"", "-wal"}) {
    auto size = fs::file_size(path_.string() + suffix, ec);
    if (!ec) s.file_bytes += static_cast<int64_t>(size);
  }
  return s;
}

Result<NormaliserState> SqliteStore::LoadNormaliser(Stage stage) {
  EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT count, mean, mean_sq FROM normaliser WHERE stage = ?1"));
  st.Bind(1, StageName(stage));
  int rc = st.Step();
  if (rc == SQLITE_DONE) return NormaliserState();
  if (rc != SQLITE_ROW) return Sql(rc, "read the reward normaliser");
  return NormaliserState{st.Int(0), st.Double(1), st.Double(2)};
}

Status SqliteStore::SaveNormaliser(Stage stage, const NormaliserState& s) {
  if (s.count < 0 || !std::isfinite(s.mean) || !std::isfinite(s.mean_sq))
    return InvalidArgument(where() + ": normaliser state must have count >= 0 and finite moments");
  return WriteTxn("save the reward normaliser", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare("INSERT INTO normaliser(stage, count, mean, mean_sq, updated_at) "
                                          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(stage) DO UPDATE SET "
                                          "count = excluded.count, mean = excluded.mean, "
                                          "mean_sq = excluded.mean_sq, updated_at = excluded.updated_at"));
    st.Bind(1, StageName(stage));
    st.Bind(2, s.count);
    st.Bind(3, s.mean);
    st.Bind(4, s.mean_sq);
    st.Bind(5, NowMs());
    int rc = st.Step();
    return rc == SQLITE_DONE ? Status::Ok() : Sql(rc, "save the reward normaliser");
  });
}

Result<int64_t> SqliteStore::Export(std::ostream& out) {
  int64_t written = 0;
  Status st = ReadTxn("export", [&]() -> Status {
    ExportWriter writer(out, where());
    EVK_ASSIGN_OR_RETURN(int64_t count, CountItems());
    EVK_RETURN_IF_ERROR(writer.Header({schema_version_, bank_embedder_, bank_dim_, count, path_.string()}));
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare(std::string("SELECT ") + kItemColumns + " FROM items ORDER BY rid"));
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadFullItem(st));
      EVK_RETURN_IF_ERROR(writer.Item(m));
    }
    if (rc != SQLITE_DONE) return Sql(rc, "export items");
    EVK_RETURN_IF_ERROR(writer.Finish());
    written = writer.items();
    return Status::Ok();
  }, /*retry=*/false);
  EVK_RETURN_IF_ERROR(st);
  return written;
}

Result<ImportReport> SqliteStore::Import(const fs::path& file) {
  // 1. Parse and validate every line before touching the bank.
  EVK_ASSIGN_OR_RETURN(ParsedExport parsed, ReadExportFile(file));
  // 2. Embed, then insert everything in one transaction.
  auto blobs = Prepared(parsed.items);
  if (!blobs.ok()) return blobs.status().WithContext("import " + file.string() + " (nothing was imported)");
  InsertReport r;
  EVK_RETURN_IF_ERROR(WriteTxn("import", [&] { return InsertPrepared(parsed.items, *blobs, true, r); }));
  ImportReport report = parsed.report;
  report.added = static_cast<int64_t>(r.ids.size());
  report.skipped = r.skipped;
  return report;
}

Result<int64_t> SqliteStore::Prune(const PruneOptions& o) {
  EVK_RETURN_IF_ERROR(ValidatePruneOptions(o));
  std::string qc = QColumn(o.q_stage);
  std::vector<Value> args;
  auto arg = [&](Value v) {
    args.push_back(std::move(v));
    return fmt::format("?{}", args.size());
  };
  std::string cand = "SELECT rid, task_id, created_at, " + qc + " AS q FROM items WHERE 1";
  if (o.kind) cand += " AND kind = " + arg(std::string(ItemKindName(*o.kind)));
  if (!o.backend.empty()) cand += " AND backend = " + arg(o.backend);
  bool protect = !(o.include_knowledge || (o.kind && *o.kind == ItemKind::kKnowledge));
  if (protect) cand += " AND kind <> 'knowledge' AND id NOT LIKE 'seed-%'";
  std::string ranked =
      "SELECT rid, created_at, q, task_id, ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY q DESC, "
      "created_at DESC, rid DESC) AS rn FROM (" + cand + ")";
  std::string cond = "1";
  if (o.older_than_ms) cond += " AND created_at < " + arg(*o.older_than_ms);
  if (o.q_below) cond += " AND q < " + arg(*o.q_below);
  if (o.keep_per_task) cond += " AND task_id <> '' AND rn > " + arg(*o.keep_per_task);
  std::string victims = "SELECT rid FROM (" + ranked + ") WHERE " + cond;
  int64_t count = 0;
  auto run = [&]() -> Status {
    std::string sql = o.dry_run ? "SELECT count(*) FROM (" + victims + ")"
                                : "DELETE FROM items WHERE rid IN (" + victims + ")";
    EVK_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    for (size_t i = 0; i < args.size(); ++i) st.Bind(static_cast<int>(i + 1), args[i]);
    int rc = st.Step();
    if (o.dry_run) {
      if (rc != SQLITE_ROW) return Sql(rc, "count items to prune");
      count = st.Int(0);
      return Status::Ok();
    }
    if (rc != SQLITE_DONE) return Sql(rc, "prune");
    count = sqlite3_changes(db_);
    if (count == 0) return Status::Ok();
    // The removed items' state values go with them.
    EVK_ASSIGN_OR_RETURN(Stmt orphans, Prepare("DELETE FROM item_state_values WHERE NOT EXISTS "
                                               "(SELECT 1 FROM items WHERE items.id = item_state_values.item_id)"));
    rc = orphans.Step();
    if (rc != SQLITE_DONE) return Sql(rc, "prune state values");
    // Deletions are not visible to the incremental refresh: make every recall index reload.
    EVK_ASSIGN_OR_RETURN(int64_t generation, MetaInt("generation"));
    return SetMeta("generation", std::to_string(generation + 1));
  };
  EVK_RETURN_IF_ERROR(o.dry_run ? ReadTxn("prune", run) : WriteTxn("prune", run));
  return count;
}

}  // namespace

Result<std::unique_ptr<MemoryStore>> OpenSqliteStore(const fs::path& file, const StoreOptions& options) {
  const std::string where = "memory bank " + file.string();
  if (options.busy_timeout_ms < 0) return InvalidArgument(where + ": busy timeout must be >= 0");
  std::error_code ec;
  bool exists = fs::exists(file, ec);
  if (!exists) {
    if (!options.create_if_missing || options.read_only)
      return NotFound("no " + where + " (create one with evokernel memory seed or import, or set --bank / "
                      "EVOKERNEL_MEMORY)");
    if (file.has_parent_path()) {
      fs::create_directories(file.parent_path(), ec);
      if (ec) return IoError("cannot create the directory of " + where + ": " + ec.message());
    }
  } else {
    if (fs::is_directory(file, ec)) return IoError(where + " is a directory, not a file");
    // Never hand a foreign file to SQLite (which could write to it): check the magic first.
    std::ifstream in(file, std::ios::binary);
    if (!in) return IoError("cannot read " + where + ": " + std::strerror(errno));
    char magic[16] = {0};
    in.read(magic, sizeof magic);
    std::streamsize got = in.gcount();
    if (got == 0)
      return IoError(where + " is an empty file, not a memory bank; it was left untouched. Remove it to create a "
                             "new bank there, or choose another file with --bank");
    if (got < 16 || std::memcmp(magic, "SQLite format 3\0", 16) != 0)
      return IoError(where + " is not an SQLite database, so not an evokernel memory bank; it was left "
                             "untouched. Choose another file with --bank");
  }
  sqlite3* db = nullptr;
  int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
              (exists ? 0 : SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return IoError("cannot open " + where + ": " + msg);
  }
  sqlite3_extended_result_codes(db, 1);
  auto store = std::make_unique<SqliteStore>(db, file, options);
  EVK_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<MemoryStore>(std::move(store));
}

}  // namespace evokernel::memory
