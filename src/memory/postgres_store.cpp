// The PostgreSQL implementation of MemoryStore: one bank shared by workers on many hosts
// (docs/memory.md, "PostgreSQL bank"). The contract, ids, values, recall ranking and export are
// those of the SQLite store (sqlite_store.cpp); both use store_support.h, recall_index.h and
// export_format.h. What differs is how the database keeps the contract's promises:
//
// - Writers are serialised like SQLite's single writer: every write transaction (READ
//   COMMITTED) first locks the meta row 'seq' (SELECT ... FOR UPDATE) and only then reads or
//   writes anything. So transactions commit in `seq` order, item row ids (an identity column)
//   grow in commit order, and the recall index's incremental refresh (the rows whose seq is above
//   the last one seen; new rows above the last row id) is exact with any number of hosts. Value
//   updates are computed by the UPDATE from the row's current value, so none is lost.
// - Readers take one snapshot per call (REPEATABLE READ READ ONLY): Recall, List, Stats and
//   Export see a consistent bank, including every write committed before the call.
// - Durability is the server's: a returned write was committed (synchronous_commit = on, the
//   default, has flushed the WAL).
// - Waits: lock_timeout is busy_timeout_ms (0: 1 ms, as lock_timeout 0 would wait forever), so a
//   writer that holds the bank for longer makes a call fail with kTimeout, like SQLite's busy
//   timeout. statement_timeout is left to the server: a long statement (exporting a large bank)
//   is work, not a wait for another writer. Serialisation failures and deadlocks (which the lock
//   order rules out, but a server may still report) are retried until the busy timeout.
// - A lost connection fails the call with kUnavailable naming the bank and the step; the server
//   rolls the open transaction back, so the call changed nothing (if the connection is lost during
//   COMMIT the outcome is unknown and the error says so: Commit's idempotent id makes redoing a
//   step safe). The next call reconnects.
// - Embeddings are float32 vectors in host byte order (bytea), as in SQLite; every host sharing a
//   bank must have the same byte order (x86-64 and AArch64 do).
// - Text must be valid in the database's encoding (UTF-8 for a UTF8 database): an item with
//   invalid bytes is refused with the server's message, where SQLite would keep the bytes.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "common/pg_conn.h"
#include "memory/export_format.h"
#include "memory/memory.h"
#include "memory/postgres_store.h"
#include "memory/recall_index.h"
#include "memory/signature.h"
#include "memory/store_support.h"

namespace evokernel::memory {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// ------------------------------------------------------------------------------- schema

// The bank's schema, versioned in meta.schema_version with the same numbers as the SQLite bank's
// (sqlite_store.cpp): version N of either store holds the same data, so an export's
// schema_version means the same in both. Migrations are only ever appended.
struct PgMigration {
  int version;
  const char* description;
  const char* sql;
};

const std::vector<PgMigration>& PgMigrations() {
  static const std::vector<PgMigration> kMigrations = {
      {1, "initial schema: meta, items, normaliser",
       R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items(
  rid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
  reward DOUBLE PRECISION NOT NULL,
  latency_ms DOUBLE PRECISION,
  parent_id TEXT NOT NULL,
  q_draft DOUBLE PRECISION NOT NULL,
  q_refine DOUBLE PRECISION NOT NULL,
  visits_draft BIGINT NOT NULL,
  visits_refine BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  model TEXT NOT NULL,
  run_id TEXT NOT NULL,
  embedding BYTEA NOT NULL,
  seq BIGINT NOT NULL);
CREATE INDEX items_seq ON items(seq);
CREATE INDEX items_task ON items(task_id, kind);
CREATE INDEX items_kind ON items(kind, backend);
CREATE INDEX items_parent ON items(parent_id) WHERE parent_id <> '';
CREATE TABLE normaliser(
  stage TEXT PRIMARY KEY,
  count BIGINT NOT NULL,
  mean DOUBLE PRECISION NOT NULL,
  mean_sq DOUBLE PRECISION NOT NULL,
  updated_at BIGINT NOT NULL);
INSERT INTO meta(key, value) VALUES ('seq', '0'), ('generation', '0');
)sql"},
      {2, "per-state values: item_state_values",
       R"sql(
CREATE TABLE item_state_values(
  item_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  state TEXT NOT NULL,
  q DOUBLE PRECISION NOT NULL,
  visits BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(item_id, stage, state));
)sql"},
  };
  return kMigrations;
}

int PgSchemaVersion() { return PgMigrations().back().version; }

// Held (transaction-scoped) while a bank's schema is created or migrated, so two hosts opening
// a new database at once do not both create it. The value: "evokernel memory" hashed, fixed forever.
constexpr int64_t kSchemaLockKey = 0x65766b6d656d3137;

// ------------------------------------------------------------------------------- libpq helpers

using pg::DecodeBytea;
using pg::Params;
using pg::PgResult;

constexpr const char* kItemColumns =
    "id, kind, backend, stage, signature, title, content, outcome, feedback, reward, latency_ms, "
    "parent_id, q_draft, q_refine, visits_draft, visits_refine, created_at, updated_at, model, "
    "run_id";
constexpr int kItemColumnCount = 20;

std::string QColumn(Stage s) { return s == Stage::kRefine ? "q_refine" : "q_draft"; }

// ------------------------------------------------------------------------------- the store

class PostgresStore final : public MemoryStore {
 public:
  PostgresStore(std::unique_ptr<pg::Connection> db, StoreOptions options)
      : db_(std::move(db)), opt_(std::move(options)), rng_(SeededIdGenerator()) {}

  Status Init();

  std::string location() const override { return db_->url(); }

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
  std::string where() const { return db_->where(); }

  Result<PgResult> Exec(const std::string& sql, const Params& p, std::string_view what) {
    return db_->Exec(sql, p, what);
  }
  Result<PgResult> Exec(const std::string& sql, std::string_view what) { return db_->Exec(sql, what); }

  // One transaction (common/pg_conn.h); with `lock_seq`, the meta row 'seq' is locked first.
  template <typename F>
  Status RunTxn(const char* begin, bool lock_seq, std::string_view what, F&& body) {
    return db_->RunTxn(begin, what, [&]() -> Status {
      if (lock_seq) {
        EVK_ASSIGN_OR_RETURN(PgResult locked, Exec("SELECT value FROM meta WHERE key = 'seq' FOR UPDATE",
                                                   std::string(what) + ": lock the bank"));
        (void)locked;
      }
      return body();
    });
  }


  // One write transaction, serialised with every other writer of the bank (see the top). Retried
  // on serialisation failures and deadlocks until the busy timeout.
  template <typename F>
  Status WriteTxn(std::string_view what, F&& body) {
    if (opt_.read_only)
      return IoError(where() + ": " + std::string(what) + ": the bank was opened read-only; nothing was written");
    auto deadline = Clock::now() + std::chrono::milliseconds(opt_.busy_timeout_ms);
    for (int attempt = 0;; ++attempt) {
      db_->clear_sqlstate();
      Status st = RunTxn("BEGIN ISOLATION LEVEL READ COMMITTED", true, what, body);
      bool retry = db_->last_sqlstate() == "40001" || db_->last_sqlstate() == "40P01";
      if (!st.ok() && retry && Clock::now() < deadline) {
        std::uniform_int_distribution<int> jitter(0, std::min(50, 1 << std::min(attempt, 5)));
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + jitter(rng_)));
        continue;
      }
      return st;
    }
  }

  // One snapshot for the whole body.
  template <typename F>
  Status ReadTxn(std::string_view what, F&& body) {
    return RunTxn("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false, what, body);
  }

  Result<std::string> MetaValue(const std::string& key) {
    Params p;
    std::string sql = "SELECT value FROM meta WHERE key = " + p.Text(key);
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "read meta." + key));
    return r.rows() ? r.Text(0, 0) : std::string();
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
    Params p;
    std::string sql = fmt::format("INSERT INTO meta(key, value) VALUES ({}, {}) ON CONFLICT(key) DO UPDATE SET "
                                  "value = excluded.value", p.Text(key), p.Text(value));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "write meta." + key));
    (void)r;
    return Status::Ok();
  }

  Result<int64_t> CountItems() {
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT count(*) FROM items", "count items"));
    return r.Int(0, 0);
  }

  // The schema version recorded in the database; 0 when it holds no bank.
  Result<int> ReadSchemaVersion() {
    // Not to_regclass: it reads the session's catalog cache without a lock, so after waiting for
    // the schema lock it can miss the tables another host has just created, and this open would
    // then try to create them too. A query on pg_class sees every commit before the statement.
    EVK_ASSIGN_OR_RETURN(PgResult t, Exec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                                          "ON n.oid = c.relnamespace WHERE c.relname = 'meta' AND n.nspname = "
                                          "ANY(current_schemas(false))), EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN "
                                          "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'items' "
                                          "AND n.nspname = ANY(current_schemas(false)))",
                                          "read the schema"));
    const bool has_meta = t.View(0, 0) == "t", has_items = t.View(0, 1) == "t";
    if (!has_meta) {
      if (has_items)
        return IoError(where() + " has an 'items' table but no meta table, so it is not an evokernel memory bank; "
                                 "it was left untouched. Use a database of its own for the bank");
      return 0;
    }
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT value FROM meta WHERE key = 'schema_version'", "read meta"));
    if (r.rows() == 0)
      return IoError(where() + ": meta has no schema_version; this is not an evokernel memory bank; it was left "
                               "untouched. Use a database of its own for the bank");
    std::string v = r.Text(0, 0);
    char* end = nullptr;
    long version = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || version < 1)
      return IoError(where() + ": meta.schema_version is '" + v + "', not a positive integer");
    return static_cast<int>(version);
  }

  Status ApplyMigrations(int from_version) {
    int last = from_version;
    for (const auto& m : PgMigrations()) {
      if (m.version <= from_version) continue;
      auto r = Exec(m.sql, fmt::format("schema migration {} ({}) failed", m.version, m.description));
      if (!r.ok()) return r.status();
      last = m.version;
    }
    if (last == from_version) return Status::Ok();
    return SetMeta("schema_version", std::to_string(last));
  }

  Result<MemoryItem> ReadItem(const PgResult& r, int row) const {
    MemoryItem m;
    int c = 0;
    m.id = r.Text(row, c++);
    auto k = ParseItemKind(r.View(row, c++));
    if (!k.ok()) return IoError(where() + ": item " + m.id + ": " + k.status().message());
    m.kind = *k;
    m.backend = r.Text(row, c++);
    auto s = ParseStage(r.View(row, c++));
    if (!s.ok()) return IoError(where() + ": item " + m.id + ": " + s.status().message());
    m.stage = *s;
    nlohmann::json sj = nlohmann::json::parse(r.View(row, c++), nullptr, false);
    auto parsed = sj.is_discarded() ? Result<TaskSignature>(InvalidArgument("not JSON")) : TaskSignature::FromJson(sj);
    if (!parsed.ok())
      return IoError(where() + ": item " + m.id + " has a malformed signature: " + parsed.status().message());
    m.signature = std::move(parsed).value();
    m.title = r.Text(row, c++);
    m.content = r.Text(row, c++);
    m.outcome = r.Text(row, c++);
    m.feedback = r.Text(row, c++);
    m.reward = r.Double(row, c++);
    if (!r.IsNull(row, c)) m.latency_ms = r.Double(row, c);
    ++c;
    m.parent_id = r.Text(row, c++);
    m.q_draft = r.Double(row, c++);
    m.q_refine = r.Double(row, c++);
    m.visits_draft = r.Int(row, c++);
    m.visits_refine = r.Int(row, c++);
    m.created_at = r.Int(row, c++);
    m.updated_at = r.Int(row, c++);
    m.model = r.Text(row, c++);
    m.run_id = r.Text(row, c++);
    return m;
  }

  // The items' per-state values, read in the caller's snapshot, sorted by stage then state
  // (bytewise, as SQLite's BINARY collation sorts them; the database's collation may differ).
  Status FillStateValues(std::vector<MemoryItem*> items) {
    if (items.empty()) return Status::Ok();
    std::unordered_map<std::string, MemoryItem*> by_id;
    std::vector<std::string> ids;
    for (MemoryItem* m : items) {
      m->state_values.clear();
      by_id[m->id] = m;
      ids.push_back(m->id);
    }
    Params p;
    std::string sql = "SELECT item_id, stage, state, q, visits, updated_at FROM item_state_values WHERE item_id = ANY(" +
                      p.TextArray(ids) + ")";
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "read state values"));
    for (int i = 0; i < r.rows(); ++i) {
      auto it = by_id.find(r.Text(i, 0));
      if (it == by_id.end()) continue;
      StateValue v;
      auto stage = ParseStage(r.View(i, 1));
      if (!stage.ok() || *stage == Stage::kAny)
        return IoError(where() + ": item " + it->first + " has a state value of unknown stage '" + r.Text(i, 1) + "'");
      v.stage = *stage;
      v.state = r.Text(i, 2);
      v.q = r.Double(i, 3);
      v.visits = r.Int(i, 4);
      v.updated_at = r.Int(i, 5);
      it->second->state_values.push_back(std::move(v));
    }
    for (MemoryItem* m : items)
      std::sort(m->state_values.begin(), m->state_values.end(), [](const StateValue& a, const StateValue& b) {
        std::string_view sa = StageName(a.stage), sb = StageName(b.stage);
        return sa != sb ? sa < sb : a.state < b.state;
      });
    return Status::Ok();
  }

  // Every row of `r` as an item with its state values.
  Result<std::vector<MemoryItem>> ReadFullItems(const PgResult& r) {
    std::vector<MemoryItem> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadItem(r, i));
      out.push_back(std::move(m));
    }
    std::vector<MemoryItem*> ptrs;
    for (auto& m : out) ptrs.push_back(&m);
    EVK_RETURN_IF_ERROR(FillStateValues(std::move(ptrs)));
    return out;
  }

  Status RequireEmbedder(std::string_view what) const {
    return memory::RequireEmbedder(embedder_.get(), what, bank_embedder_, bank_dim_, where());
  }

  Result<std::vector<std::string>> Prepared(std::vector<MemoryItem>& items) {
    EVK_RETURN_IF_ERROR(RequireEmbedder("inserting items"));
    EVK_RETURN_IF_ERROR(ValidateAndStampItems(items, where(), NowMs(), rng_));
    return EmbedItems(*embedder_, bank_dim_, items);
  }

  Status ReadMetaAndCheckEmbedder();
  Status InsertPrepared(const std::vector<MemoryItem>& items, const std::vector<std::string>& blobs,
                        bool skip_existing, InsertReport& report);
  Status UpdatesInTxn(const std::vector<ValueUpdate>& updates);
  Status RefreshIndex();
  Status LoadRows(const PgResult& r, bool full);

  std::unique_ptr<pg::Connection> db_;
  StoreOptions opt_;
  std::shared_ptr<const Embedder> embedder_;
  std::string bank_embedder_;
  int bank_dim_ = 0;
  int schema_version_ = 0;
  std::mt19937_64 rng_;
  RecallIndex index_;
  bool index_loaded_ = false;
  int64_t index_generation_ = -1;
  int64_t index_last_seq_ = 0;
};

Status PostgresStore::Init() {
  // Reads first: nothing is written until the database is known to hold a bank (or none).
  int version = 0;
  EVK_RETURN_IF_ERROR(ReadTxn("open", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(version, ReadSchemaVersion());
    return Status::Ok();
  }));
  if (version > PgSchemaVersion())
    return Unavailable(fmt::format(
        "{} has schema version {}, but this evokernel knows versions up to {}: the bank was "
        "written by a newer evokernel. Use that version (or export the bank with it and import "
        "the export here)", where(), version, PgSchemaVersion()));
  if (version == 0 && (opt_.read_only || !opt_.create_if_missing))
    return NotFound("no " + where() + ": the database holds no evokernel bank (open it once for writing, e.g. "
                    "evokernel memory seed --bank URL, to create one)");
  if (opt_.read_only) {
    if (version < PgSchemaVersion())
      return Unavailable(fmt::format("{} has schema version {} and needs migrating to {} before it can be read; "
                                     "any command that writes to it does that (evokernel memory seed --bank ...)",
                                     where(), version, PgSchemaVersion()));
    return ReadMetaAndCheckEmbedder();
  }
  // StoreOptions::check_integrity is a no-op here: PostgreSQL checks its pages itself (checksums
  // when the cluster has them) and has no whole-database quick check that is cheap to run.
  if (version < PgSchemaVersion()) {
    std::shared_ptr<const Embedder> wanted = opt_.embedder ? opt_.embedder : MakeStructuralEmbedder();
    // Not WriteTxn: the meta row it locks may not exist yet. The advisory lock serialises hosts
    // creating or migrating the bank at once; the version is read again under it.
    EVK_RETURN_IF_ERROR(RunTxn("BEGIN ISOLATION LEVEL READ COMMITTED", false, "create the schema", [&]() -> Status {
      Params p;
      EVK_ASSIGN_OR_RETURN(PgResult l, Exec("SELECT pg_advisory_xact_lock(" + p.Int(kSchemaLockKey) + ")", p,
                                            "lock the schema"));
      (void)l;
      EVK_ASSIGN_OR_RETURN(int now, ReadSchemaVersion());
      if (now > PgSchemaVersion()) return Unavailable(where() + " was just migrated by a newer evokernel");
      EVK_RETURN_IF_ERROR(ApplyMigrations(now));
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

Status PostgresStore::ReadMetaAndCheckEmbedder() {
  schema_version_ = PgSchemaVersion();
  EVK_RETURN_IF_ERROR(ReadTxn("open", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(bank_embedder_, MetaValue("embedder"));
    EVK_ASSIGN_OR_RETURN(int64_t dim, MetaInt("embedder_dim"));
    bank_dim_ = static_cast<int>(dim);
    return Status::Ok();
  }));
  if (bank_embedder_.empty() || bank_dim_ < 1)
    return IoError(where() + ": meta does not record the embedder; the bank is damaged");
  EVK_ASSIGN_OR_RETURN(embedder_, ResolveBankEmbedder(opt_, bank_embedder_, bank_dim_, where()));
  index_.Clear(bank_dim_);
  index_loaded_ = false;
  return Status::Ok();
}

Status PostgresStore::InsertPrepared(const std::vector<MemoryItem>& items, const std::vector<std::string>& blobs,
                                     bool skip_existing, InsertReport& report) {
  report = InsertReport();
  EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
  for (size_t i = 0; i < items.size(); ++i) {
    const MemoryItem& m = items[i];
    Params p;
    std::string values = fmt::format(
        "{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}", p.Text(m.id),
        p.Text(ItemKindName(m.kind)), p.Text(m.backend), p.Text(StageName(m.stage)), p.Text(m.signature.task_id),
        p.Text(m.signature.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), p.Text(m.title),
        p.Text(m.content), p.Text(m.outcome), p.Text(m.feedback), p.Real(m.reward),
        m.latency_ms ? p.Real(*m.latency_ms) : p.Null("float8"), p.Text(m.parent_id), p.Real(m.q_draft),
        p.Real(m.q_refine), p.Int(m.visits_draft), p.Int(m.visits_refine), p.Int(m.created_at), p.Int(m.updated_at),
        p.Text(m.model), p.Text(m.run_id), p.Bytes(blobs[i]), p.Int(seq + 1));
    std::string sql =
        "INSERT INTO items(id, kind, backend, stage, task_id, signature, title, content, outcome, feedback, reward, "
        "latency_ms, parent_id, q_draft, q_refine, visits_draft, visits_refine, created_at, updated_at, model, run_id, "
        "embedding, seq) VALUES (" + values + ") ON CONFLICT(id) DO NOTHING";
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "insert item " + m.id));
    if (r.Affected() == 0) {
      if (!skip_existing)
        return InvalidArgument(where() + ": an item with id '" + m.id + "' already exists; nothing was inserted");
      ++report.skipped;
      continue;
    }
    ++seq;
    report.ids.push_back(m.id);
    for (const StateValue& v : m.state_values) {
      Params sp;
      std::string ssql = fmt::format(
          "INSERT INTO item_state_values(item_id, stage, state, q, visits, updated_at) VALUES ({}, {}, {}, {}, {}, {})",
          sp.Text(m.id), sp.Text(StageName(v.stage)), sp.Text(v.state), sp.Real(v.q), sp.Int(v.visits),
          sp.Int(v.updated_at ? v.updated_at : m.updated_at));
      EVK_ASSIGN_OR_RETURN(PgResult sr, Exec(ssql, sp, "insert the state values of item " + m.id));
      (void)sr;
    }
  }
  return SetMeta("seq", std::to_string(seq));
}

Result<InsertReport> PostgresStore::InsertMany(std::vector<MemoryItem> items, bool skip_existing) {
  if (items.empty()) return InsertReport();
  EVK_ASSIGN_OR_RETURN(auto blobs, Prepared(items));
  InsertReport report;
  EVK_RETURN_IF_ERROR(WriteTxn("insert", [&] { return InsertPrepared(items, blobs, skip_existing, report); }));
  return report;
}

Result<MemoryItem> PostgresStore::Get(std::string_view id) {
  MemoryItem m;
  EVK_RETURN_IF_ERROR(ReadTxn("get", [&]() -> Status {
    Params p;
    std::string sql = std::string("SELECT ") + kItemColumns + " FROM items WHERE id = " + p.Text(id);
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "read item " + std::string(id)));
    if (r.rows() == 0) return NotFound(where() + " has no item '" + std::string(id) + "'");
    EVK_ASSIGN_OR_RETURN(auto items, ReadFullItems(r));
    m = std::move(items.front());
    return Status::Ok();
  }));
  return m;
}

Status PostgresStore::ApplyUpdates(const std::vector<ValueUpdate>& updates) {
  EVK_RETURN_IF_ERROR(ValidateUpdates(updates, where()));
  if (updates.empty()) return Status::Ok();
  return WriteTxn("update values", [&]() -> Status { return UpdatesInTxn(updates); });
}

Result<bool> PostgresStore::Commit(std::vector<MemoryItem> items, const std::vector<ValueUpdate>& updates) {
  EVK_RETURN_IF_ERROR(ValidateUpdates(updates, where()));
  if (items.empty()) return InvalidArgument(where() + ": commit without items");
  if (items.front().id.empty()) return InvalidArgument(where() + ": commit needs a caller-chosen id for its first item");
  EVK_ASSIGN_OR_RETURN(auto blobs, Prepared(items));
  bool applied = false;
  EVK_RETURN_IF_ERROR(WriteTxn("commit", [&]() -> Status {
    applied = false;
    Params p;
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT 1 FROM items WHERE id = " + p.Text(items.front().id), p,
                                          "look up item " + items.front().id));
    if (r.rows() > 0) return Status::Ok();  // committed before: change nothing
    InsertReport report;
    EVK_RETURN_IF_ERROR(InsertPrepared(items, blobs, false, report));
    EVK_RETURN_IF_ERROR(UpdatesInTxn(updates));
    applied = true;
    return Status::Ok();
  }));
  return applied;
}

Status PostgresStore::UpdatesInTxn(const std::vector<ValueUpdate>& updates) {
  if (updates.empty()) return Status::Ok();
  int64_t now = NowMs();
  EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
  for (const auto& u : updates) {
    const std::string q = QColumn(u.stage);
    const std::string visits = u.stage == Stage::kRefine ? "visits_refine" : "visits_draft";
    if (!u.state.empty()) {
      // The state's value first: a state the item has not met starts from the item's global
      // value before this update, the value a category scope ranked it by.
      Params p;
      std::string alpha = p.Real(u.alpha), reward = p.Real(u.reward), at = p.Int(now);
      std::string sql = fmt::format(
          "INSERT INTO item_state_values(item_id, stage, state, q, visits, updated_at) "
          "SELECT id, {stage}, {state}, {q} + {a} * ({r} - {q}), 1, {at} FROM items WHERE id = {id} "
          "ON CONFLICT(item_id, stage, state) DO UPDATE SET q = item_state_values.q + {a} * ({r} - "
          "item_state_values.q), visits = item_state_values.visits + 1, updated_at = excluded.updated_at",
          fmt::arg("stage", p.Text(StageName(u.stage))), fmt::arg("state", p.Text(u.state)), fmt::arg("q", q),
          fmt::arg("a", alpha), fmt::arg("r", reward), fmt::arg("at", at), fmt::arg("id", p.Text(u.id)));
      EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "update the state value of item " + u.id));
      (void)r;
    }
    // Computed from the row's current value, under the bank's write lock: concurrent updates
    // from other hosts are serialised and compose, none is lost.
    Params p;
    std::string sql = fmt::format("UPDATE items SET {0} = {0} + {2} * ({3} - {0}), {1} = {1} + 1, updated_at = {4}, "
                                  "seq = {5} WHERE id = {6}",
                                  q, visits, p.Real(u.alpha), p.Real(u.reward), p.Int(now), p.Int(++seq), p.Text(u.id));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "update item " + u.id));
    if (r.Affected() == 0) return NotFound(where() + " has no item '" + u.id + "'; no value was updated");
  }
  return SetMeta("seq", std::to_string(seq));
}

Status PostgresStore::LoadRows(const PgResult& r, bool full) {
  const int dim = index_.dim();
  std::vector<float> v(dim);
  std::string bytes;
  for (int i = 0; i < r.rows(); ++i) {
    int64_t rid = r.Int(i, 0);
    if (!full && !index_.empty() && rid <= index_.last_rid()) continue;  // a value update
    if (r.IsNull(i, 5) || !DecodeBytea(r.View(i, 5), bytes) || bytes.size() != static_cast<size_t>(dim) * sizeof(float))
      return IoError(fmt::format("{}: row {} has a {}-byte embedding, expected {} floats", where(), rid,
                                 r.IsNull(i, 5) ? 0 : bytes.size(), dim));
    auto kind = ParseItemKind(r.View(i, 1));
    auto stage = ParseStage(r.View(i, 3));
    if (!kind.ok() || !stage.ok()) return IoError(fmt::format("{}: row {} has an unknown kind or stage", where(), rid));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    Status added = index_.Append(rid, *kind, *stage, r.View(i, 2), r.View(i, 4), v);
    if (!added.ok()) return IoError(where() + ": " + added.message());
  }
  return Status::Ok();
}

// Must run inside a read transaction.
Status PostgresStore::RefreshIndex() {
  EVK_ASSIGN_OR_RETURN(int64_t generation, MetaInt("generation"));
  EVK_ASSIGN_OR_RETURN(int64_t seq, MetaInt("seq"));
  if (!index_loaded_ || generation != index_generation_) {
    index_.Clear(bank_dim_);
    index_loaded_ = false;
    EVK_ASSIGN_OR_RETURN(int64_t count, CountItems());
    index_.Reserve(static_cast<size_t>(count));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT rid, kind, backend, stage, task_id, embedding FROM items ORDER BY rid",
                                          "load the recall index"));
    EVK_RETURN_IF_ERROR(LoadRows(r, true));
    index_loaded_ = true;
    index_generation_ = generation;
  } else if (seq > index_last_seq_) {
    // New rows have row ids above every indexed one (writers are serialised and commit in seq
    // order); rows that only had their values updated are skipped (values are read with the rows).
    Params p;
    std::string sql = fmt::format("SELECT rid, kind, backend, stage, task_id, CASE WHEN rid > {1} THEN embedding END "
                                  "FROM items WHERE seq > {0} ORDER BY rid",
                                  p.Int(index_last_seq_), p.Int(index_.last_rid()));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "refresh the recall index"));
    EVK_RETURN_IF_ERROR(LoadRows(r, false));
  }
  index_last_seq_ = seq;
  return Status::Ok();
}

Result<std::vector<ScoredItem>> PostgresStore::Recall(const RecallQuery& q) {
  EVK_RETURN_IF_ERROR(RequireEmbedder("recall"));
  EVK_ASSIGN_OR_RETURN(RecallPlan plan, PlanRecall(q, *embedder_, bank_dim_, where()));
  const std::vector<float>& qv = plan.vector;
  const RecallFilter& filter = plan.filter;

  std::vector<ScoredItem> out;
  Status st = ReadTxn("recall", [&]() -> Status {
    out.clear();
    Status refreshed = RefreshIndex();
    if (!refreshed.ok()) {
      index_loaded_ = false;  // a half-loaded index is reloaded by the next recall
      return refreshed;
    }
    const std::vector<RecallCandidate> candidates = index_.Candidates(qv, filter, q.k);
    if (candidates.empty()) return Status::Ok();
    // Exact rescoring from the stored float vectors, with the rows themselves (one query).
    std::vector<int64_t> rids;
    for (const RecallCandidate& c : candidates) rids.push_back(c.rid);
    Params p;
    std::string sql = std::string("SELECT ") + kItemColumns + ", embedding, rid FROM items WHERE rid = ANY(" +
                      p.IntArray(rids) + ")";
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "read recalled items"));
    std::vector<std::pair<ScoredItem, int64_t>> scored;
    scored.reserve(static_cast<size_t>(r.rows()));
    std::string bytes;
    for (int i = 0; i < r.rows(); ++i) {
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadItem(r, i));
      if (!DecodeBytea(r.View(i, kItemColumnCount), bytes) || bytes.size() != static_cast<size_t>(bank_dim_) * sizeof(float))
        return IoError(where() + ": item " + m.id + " has a malformed embedding");
      std::vector<float> v(static_cast<size_t>(bank_dim_));
      std::memcpy(v.data(), bytes.data(), bytes.size());
      double sim = Dot(qv, v);
      scored.push_back({ScoredItem{std::move(m), sim}, r.Int(i, kItemColumnCount + 1)});
    }
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
      if (a.first.similarity != b.first.similarity) return a.first.similarity > b.first.similarity;
      return a.second < b.second;
    });
    if (scored.size() > static_cast<size_t>(q.k)) scored.resize(q.k);
    for (auto& s : scored) out.push_back(std::move(s.first));
    std::vector<MemoryItem*> ptrs;
    for (auto& s : out) ptrs.push_back(&s.item);
    return FillStateValues(std::move(ptrs));
  });
  EVK_RETURN_IF_ERROR(st);
  return out;
}

Result<std::vector<MemoryItem>> PostgresStore::List(const ListFilter& f) {
  if (f.q_stage == Stage::kAny && (f.min_q || f.max_q || f.order == ListOrder::kQDesc || f.order == ListOrder::kQAsc))
    return InvalidArgument("list: the Q stage must be draft or refine");
  if (f.limit < 0) return InvalidArgument("list: limit must be >= 0");
  Params p;
  std::string sql = std::string("SELECT ") + kItemColumns + " FROM items WHERE TRUE";
  std::string qc = QColumn(f.q_stage);
  if (f.kind) sql += " AND kind = " + p.Text(ItemKindName(*f.kind));
  if (!f.backend.empty()) sql += " AND backend = " + p.Text(f.backend);
  if (!f.task_id.empty()) sql += " AND task_id = " + p.Text(f.task_id);
  if (!f.outcome.empty()) sql += " AND outcome = " + p.Text(f.outcome);
  if (!f.parent_id.empty()) sql += " AND parent_id = " + p.Text(f.parent_id);
  if (f.stage) sql += " AND stage = " + p.Text(StageName(*f.stage));
  if (f.min_q) sql += " AND " + qc + " >= " + p.Real(*f.min_q);
  if (f.max_q) sql += " AND " + qc + " <= " + p.Real(*f.max_q);
  switch (f.order) {
    case ListOrder::kNewest: sql += " ORDER BY created_at DESC, rid DESC"; break;
    case ListOrder::kOldest: sql += " ORDER BY created_at ASC, rid ASC"; break;
    case ListOrder::kQDesc: sql += " ORDER BY " + qc + " DESC, rid ASC"; break;
    case ListOrder::kQAsc: sql += " ORDER BY " + qc + " ASC, rid ASC"; break;
  }
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  std::vector<MemoryItem> out;
  EVK_RETURN_IF_ERROR(ReadTxn("list", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "list items"));
    EVK_ASSIGN_OR_RETURN(out, ReadFullItems(r));
    return Status::Ok();
  }));
  return out;
}

Result<BankStats> PostgresStore::Stats() {
  BankStats s;
  s.location = db_->url();
  s.schema_version = schema_version_;
  s.embedder = bank_embedder_;
  s.dim = bank_dim_;
  EVK_RETURN_IF_ERROR(ReadTxn("stats", [&]() -> Status {
    EVK_ASSIGN_OR_RETURN(s.items, CountItems());
    for (const char* col : {"kind", "backend", "stage", "outcome"}) {
      auto& m = std::string(col) == "kind"      ? s.by_kind
                : std::string(col) == "backend" ? s.by_backend
                : std::string(col) == "stage"   ? s.by_stage
                                                : s.by_outcome;
      m.clear();
      EVK_ASSIGN_OR_RETURN(PgResult r, Exec(fmt::format("SELECT {0}, count(*) FROM items GROUP BY {0}", col),
                                            "count items by " + std::string(col)));
      for (int i = 0; i < r.rows(); ++i) {
        std::string key = r.Text(i, 0);
        m[key.empty() ? "(none)" : key] = r.Int(i, 1);
      }
    }
    for (Stage stage : {Stage::kDraft, Stage::kRefine}) {
      std::string visits = stage == Stage::kRefine ? "visits_refine" : "visits_draft";
      EVK_ASSIGN_OR_RETURN(PgResult r, Exec(fmt::format("SELECT {} FROM items WHERE {} > 0", QColumn(stage), visits),
                                            "read values"));
      std::vector<double> values;
      for (int i = 0; i < r.rows(); ++i) values.push_back(r.Double(i, 0));
      (stage == Stage::kDraft ? s.q_draft : s.q_refine) = SummariseValues(std::move(values));
    }
    EVK_ASSIGN_OR_RETURN(PgResult sv, Exec("SELECT count(*) FROM item_state_values", "count state values"));
    s.state_values = sv.Int(0, 0);
    // The bank's tables with their indexes and TOAST: what it takes of the server's disk.
    EVK_ASSIGN_OR_RETURN(PgResult size, Exec("SELECT pg_total_relation_size('items') + pg_total_relation_size('meta') + "
                                             "pg_total_relation_size('normaliser') + "
                                             "pg_total_relation_size('item_state_values')",
                                             "measure the bank"));
    s.file_bytes = size.Int(0, 0);
    return Status::Ok();
  }));
  return s;
}

Result<NormaliserState> PostgresStore::LoadNormaliser(Stage stage) {
  NormaliserState out;
  EVK_RETURN_IF_ERROR(ReadTxn("read the reward normaliser", [&]() -> Status {
    Params p;
    std::string sql = "SELECT count, mean, mean_sq FROM normaliser WHERE stage = " + p.Text(StageName(stage));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "read the reward normaliser"));
    out = r.rows() ? NormaliserState{r.Int(0, 0), r.Double(0, 1), r.Double(0, 2)} : NormaliserState();
    return Status::Ok();
  }));
  return out;
}

Status PostgresStore::SaveNormaliser(Stage stage, const NormaliserState& s) {
  if (s.count < 0 || !std::isfinite(s.mean) || !std::isfinite(s.mean_sq))
    return InvalidArgument(where() + ": normaliser state must have count >= 0 and finite moments");
  return WriteTxn("save the reward normaliser", [&]() -> Status {
    Params p;
    std::string sql = fmt::format(
        "INSERT INTO normaliser(stage, count, mean, mean_sq, updated_at) VALUES ({}, {}, {}, {}, {}) "
        "ON CONFLICT(stage) DO UPDATE SET count = excluded.count, mean = excluded.mean, mean_sq = excluded.mean_sq, "
        "updated_at = excluded.updated_at",
        p.Text(StageName(stage)), p.Int(s.count), p.Real(s.mean), p.Real(s.mean_sq), p.Int(NowMs()));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, p, "save the reward normaliser"));
    (void)r;
    return Status::Ok();
  });
}

Result<int64_t> PostgresStore::Export(std::ostream& out) {
  int64_t written = 0;
  EVK_RETURN_IF_ERROR(ReadTxn("export", [&]() -> Status {
    ExportWriter writer(out, where());
    EVK_ASSIGN_OR_RETURN(int64_t count, CountItems());
    EVK_RETURN_IF_ERROR(writer.Header({schema_version_, bank_embedder_, bank_dim_, count, db_->url()}));
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec(std::string("SELECT ") + kItemColumns + " FROM items ORDER BY rid",
                                          "export items"));
    // Every state value of the snapshot, by item (one query rather than one per item).
    EVK_ASSIGN_OR_RETURN(PgResult sv, Exec("SELECT item_id, stage, state, q, visits, updated_at FROM item_state_values",
                                           "export state values"));
    std::unordered_map<std::string, std::vector<StateValue>> values;
    for (int i = 0; i < sv.rows(); ++i) {
      auto stage = ParseStage(sv.View(i, 1));
      if (!stage.ok() || *stage == Stage::kAny)
        return IoError(where() + ": item " + sv.Text(i, 0) + " has a state value of unknown stage '" + sv.Text(i, 1) +
                       "'");
      values[sv.Text(i, 0)].push_back({*stage, sv.Text(i, 2), sv.Double(i, 3), sv.Int(i, 4), sv.Int(i, 5)});
    }
    for (int i = 0; i < r.rows(); ++i) {
      EVK_ASSIGN_OR_RETURN(MemoryItem m, ReadItem(r, i));
      if (auto it = values.find(m.id); it != values.end()) {
        m.state_values = std::move(it->second);
        std::sort(m.state_values.begin(), m.state_values.end(), [](const StateValue& a, const StateValue& b) {
          std::string_view sa = StageName(a.stage), sb = StageName(b.stage);
          return sa != sb ? sa < sb : a.state < b.state;
        });
      }
      EVK_RETURN_IF_ERROR(writer.Item(m));
    }
    EVK_RETURN_IF_ERROR(writer.Finish());
    written = writer.items();
    return Status::Ok();
  }));
  return written;
}

Result<ImportReport> PostgresStore::Import(const fs::path& file) {
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

Result<int64_t> PostgresStore::Prune(const PruneOptions& o) {
  EVK_RETURN_IF_ERROR(ValidatePruneOptions(o));
  Params p;
  std::string cand = "SELECT rid, task_id, created_at, " + QColumn(o.q_stage) + " AS q FROM items WHERE TRUE";
  if (o.kind) cand += " AND kind = " + p.Text(ItemKindName(*o.kind));
  if (!o.backend.empty()) cand += " AND backend = " + p.Text(o.backend);
  bool protect = !(o.include_knowledge || (o.kind && *o.kind == ItemKind::kKnowledge));
  // ILIKE: SQLite's LIKE ignores ASCII case, so "SEED-..." ids are protected there too.
  if (protect) cand += " AND kind <> 'knowledge' AND id NOT ILIKE 'seed-%'";
  std::string ranked =
      "SELECT rid, created_at, q, task_id, ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY q DESC, "
      "created_at DESC, rid DESC) AS rn FROM (" + cand + ") AS cand";
  std::string cond = "TRUE";
  if (o.older_than_ms) cond += " AND created_at < " + p.Int(*o.older_than_ms);
  if (o.q_below) cond += " AND q < " + p.Real(*o.q_below);
  if (o.keep_per_task) cond += " AND task_id <> '' AND rn > " + p.Int(*o.keep_per_task);
  std::string victims = "SELECT rid FROM (" + ranked + ") AS ranked WHERE " + cond;
  int64_t count = 0;
  auto run = [&]() -> Status {
    if (o.dry_run) {
      EVK_ASSIGN_OR_RETURN(PgResult r, Exec("SELECT count(*) FROM (" + victims + ") AS victims", p,
                                            "count items to prune"));
      count = r.Int(0, 0);
      return Status::Ok();
    }
    EVK_ASSIGN_OR_RETURN(PgResult r, Exec("DELETE FROM items WHERE rid IN (" + victims + ")", p, "prune"));
    count = r.Affected();
    if (count == 0) return Status::Ok();
    // The removed items' state values go with them.
    EVK_ASSIGN_OR_RETURN(PgResult orphans, Exec("DELETE FROM item_state_values WHERE NOT EXISTS "
                                                "(SELECT 1 FROM items WHERE items.id = item_state_values.item_id)",
                                                "prune state values"));
    (void)orphans;
    // Deletions are not visible to the incremental refresh: make every recall index reload.
    EVK_ASSIGN_OR_RETURN(int64_t generation, MetaInt("generation"));
    return SetMeta("generation", std::to_string(generation + 1));
  };
  EVK_RETURN_IF_ERROR(o.dry_run ? ReadTxn("prune", run) : WriteTxn("prune", run));
  return count;
}

}  // namespace

Result<std::unique_ptr<MemoryStore>> OpenPostgresStore(std::string_view url, const StoreOptions& options) {
  if (options.busy_timeout_ms < 0)
    return InvalidArgument("memory bank " + RedactPostgresUrl(url) + ": busy timeout must be >= 0");
  pg::ConnectionOptions co;
  co.noun = "memory bank";
  co.session_sql = fmt::format("SET lock_timeout = '{}ms'", std::max(1, options.busy_timeout_ms));
  // A read-only store cannot write even by mistake: the server refuses.
  if (options.read_only) co.session_sql += "; SET default_transaction_read_only = on";
  co.timeout_hint = "another process held the bank for longer than the busy timeout (" +
                    std::to_string(options.busy_timeout_ms) + " ms)";
  EVK_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> db, pg::Connection::Open(url, std::move(co)));
  auto store = std::make_unique<PostgresStore>(std::move(db), options);
  EVK_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<MemoryStore>(std::move(store));
}

}  // namespace evokernel::memory
