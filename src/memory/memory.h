// The experience memory: what evokernel learns. The LLM stays frozen; what improves is which
// experience it is shown (docs/memory.md, ../shared/method.md).
//
//   TaskSpec --SignatureFromSpec--> TaskSignature --Embedder (signature.h)--> unit vector
//
//   drafting / refining step of the agent:
//     MemoryStore::Recall(K = lambda * N most similar items)           similarity gates the pool
//       --> SelectContext (policy.h: epsilon-greedy on the stage's Q)    value picks N of them
//       + KnowledgeLookup (API notes by operator name / category)       a separate slot budget
//       --> prompt --> LLM --> kernel --> verifier --> reward (values.h: r1, r2, PopArt)
//       --> MemoryStore::ApplyUpdates(Q <- Q + alpha (r - Q) for every item shown)
//       --> MemoryStore::Insert(the new trace / summary, with its outcome and feedback)
//
// One bank (one SQLite file, or one PostgreSQL database shared by many hosts) is shared by every
// task of a run and across runs; several processes may use it at once. Items are immutable once inserted except for their values
// (q_*, visits_*, updated_at), which only ApplyUpdates changes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "task/task.h"

namespace evokernel::memory {

// The four kinds of method.md.
enum class ItemKind {
  kKnowledge,     // backend API knowledge and templates (seeded; selected by lookup, policy.h)
  kSummary,       // summaries of successful and failed experiences
  kTrace,         // code of drafts and refined variants, with verifier results and rewards
  kBestPractice,  // refinement best practices
};
inline constexpr ItemKind kAllKinds[] = {ItemKind::kKnowledge, ItemKind::kSummary,
                                         ItemKind::kTrace, ItemKind::kBestPractice};
// "knowledge", "summary", "trace", "best_practice".
std::string_view ItemKindName(ItemKind k);
Result<ItemKind> ParseItemKind(std::string_view name);

// The stage an item is meant for, and the stage whose value an update or a selection uses.
// kAny marks items useful in both stages (most knowledge); it is not a value of its own.
enum class Stage { kDraft, kRefine, kAny };
std::string_view StageName(Stage s);  // "draft", "refine", "any"
Result<Stage> ParseStage(std::string_view name);

// What recall compares: the structural description of a task (or of the tasks a note applies
// to). Built from a TaskSpec by SignatureFromSpec, or from a knowledge note's front matter.
struct TaskSignature {
  std::string task_id;   // "level1/01_square_matmul"; empty for knowledge items
  std::string category;  // "matmul"; a knowledge note may list several, comma-separated
  int level = 0;         // KernelBench level; 0 when unknown
  std::string backend;   // "cpu"
  // Sorted, unique, normalised operator names (NormaliseOpName): "conv2d", "relu".
  std::vector<std::string> ops;
  std::vector<std::vector<int64_t>> shapes;  // input shapes, then output shapes
  size_t num_inputs = 0;                     // how many of `shapes` are inputs (incl. params)
  std::string text;                          // description and docstring

  std::vector<std::string> Categories() const;  // `category` split on commas, trimmed
  nlohmann::json ToJson() const;
  // Validates types; errors name the field ("signature.ops[2]: expected a string, got number").
  static Result<TaskSignature> FromJson(const nlohmann::json& j, std::string_view where = "signature");
  bool operator==(const TaskSignature&) const = default;
};

// Lower-case, without '_' and '.' ("log_softmax" -> "logsoftmax", "BatchNorm2d" ->
// "batchnorm2d"), so nn.Module names, torch functions and note front matter agree. Empty for
// names that are not operators (NN bookkeeping and tensor factories: "parameter", "randn",
// "zeros", "super", "size", ...).
std::string NormaliseOpName(std::string_view name);

// ops = normalised TaskSpec.modules + calls; shapes = every argument's shape (inputs and
// params, then outputs); text = description + docstring.
TaskSignature SignatureFromSpec(const TaskSpec& spec, std::string_view backend);

// The value of an item in one coarse state s of Q(s, m) (method.md): the task's category, for one
// stage. Learned alongside the item's global value by every update that names a state
// (ValueUpdate::state); which of the two retrieval uses is the value scope (values.h).
struct StateValue {
  Stage stage = Stage::kDraft;  // kDraft or kRefine
  std::string state;            // the category of the tasks whose rewards made it ("matmul")
  double q = 0;
  int64_t visits = 0;
  int64_t updated_at = 0;  // unix ms
  bool operator==(const StateValue&) const = default;
};

struct MemoryItem {
  std::string id;  // assigned on insert when empty: "m-" + 16 random hex digits
  ItemKind kind = ItemKind::kTrace;
  TaskSignature signature;
  std::string backend;
  Stage stage = Stage::kAny;
  std::string title;
  std::string content;   // code or text
  std::string outcome;   // "feasible", or the failing stage/category ("correctness/wrong_answer");
                         // empty for knowledge
  std::string feedback;  // what the verifier said
  double reward = 0;
  std::optional<double> latency_ms;
  std::string parent_id;  // the start point this variant was refined from
  double q_draft = 0, q_refine = 0;
  int64_t visits_draft = 0, visits_refine = 0;
  int64_t created_at = 0, updated_at = 0;  // unix ms; 0 on insert means "now"
  std::string model, run_id;               // provenance
  // Per-state values, sorted by stage then state; empty until an update names a state. Filled by
  // every read of the store (Get, List, Recall, Export); inserted with the item (Import).
  std::vector<StateValue> state_values;

  // The state value of (stage, state), or null when the item has not met that state.
  const StateValue* FindStateValue(Stage stage, std::string_view state) const;

  // "state_values" appears only when the item has some, so items without them read and write as
  // before this field existed.
  nlohmann::json ToJson() const;
  // Validates every field: required kind, stage, backend and content; types; known kind and
  // stage names; finite numbers; non-negative visits; no unknown fields. The error names the
  // field ("q_draft: expected a number, got string").
  static Result<MemoryItem> FromJson(const nlohmann::json& j);
};

struct ScoredItem {
  MemoryItem item;
  double similarity = 0;  // cosine of the embeddings, in [-1, 1]
};

// Q <- Q + alpha * (reward - Q) and visits + 1, for `stage` (kDraft or kRefine) of item `id`.
// When `state` is set (the task's category), the item's value in that state is updated the same
// way in the same transaction; a state the item has not met starts from the item's global value
// before this update (what a `category` scope ranked it by), so its first value is the global
// one after the update.
struct ValueUpdate {
  ValueUpdate() = default;
  ValueUpdate(std::string id_, Stage stage_, double reward_, double alpha_, std::string state_ = {})
      : id(std::move(id_)), stage(stage_), reward(reward_), alpha(alpha_), state(std::move(state_)) {}

  std::string id;
  Stage stage = Stage::kDraft;
  double reward = 0;
  double alpha = 0.2;
  std::string state;  // empty: only the global value
};

struct RecallQuery {
  TaskSignature signature;
  std::string text;             // extra query text embedded with the signature (optional)
  Stage stage = Stage::kAny;    // kDraft: items of stage draft or any; kRefine likewise; kAny: all
  std::string backend;          // only items of this backend; empty: every backend
  int k = 12;                   // pool size K (lambda * N)
  std::vector<ItemKind> kinds;  // only these kinds; empty: every kind
  std::string task_id;          // only items of this task (e.g. start points); empty: all tasks
};

enum class ListOrder { kNewest, kOldest, kQDesc, kQAsc };
Result<ListOrder> ParseListOrder(std::string_view name);  // "newest", "oldest", "q", "q-asc"

struct ListFilter {
  std::optional<ItemKind> kind;
  std::string backend, task_id, outcome, parent_id;  // empty: any
  std::optional<Stage> stage;                        // exact item stage
  Stage q_stage = Stage::kDraft;  // which Q min_q/max_q and the Q orders use
  std::optional<double> min_q, max_q;
  ListOrder order = ListOrder::kNewest;
  int64_t limit = 0;  // 0: no limit
};

struct QSummary {
  int64_t visited = 0;  // items with at least one update of this stage; the rest sit at initial Q
  double min = 0, p25 = 0, median = 0, p75 = 0, max = 0, mean = 0;  // over visited items
  nlohmann::json ToJson() const;
};

struct BankStats {
  std::string location;
  int schema_version = 0;
  std::string embedder;
  int dim = 0;
  int64_t items = 0;
  std::map<std::string, int64_t> by_kind, by_backend, by_stage, by_outcome;
  QSummary q_draft, q_refine;
  int64_t file_bytes = 0;  // database file plus its write-ahead log (PostgreSQL: the bank's tables)
  int64_t state_values = 0;  // (item, stage, state) values held
  nlohmann::json ToJson() const;
};

// PopArt running statistics of one stage's rewards (values.h), persisted in the bank.
struct NormaliserState {
  int64_t count = 0;
  double mean = 0, mean_sq = 0;
  bool operator==(const NormaliserState&) const = default;
};

struct InsertReport {
  std::vector<std::string> ids;  // inserted, in input order
  int64_t skipped = 0;           // ids that already existed (skip_existing)
};

struct ImportReport {
  int64_t lines = 0;  // item lines read (header and blank lines excluded)
  int64_t added = 0;
  int64_t skipped = 0;  // ids already in the bank
};

// Which items Prune removes: those matching every given criterion. At least one of
// older_than_ms, q_below and keep_per_task is required. Knowledge items and seeded notes (ids
// "seed-...") are never removed unless `kind` is kKnowledge or include_knowledge is set.
struct PruneOptions {
  std::optional<ItemKind> kind;
  std::string backend;
  std::optional<int64_t> older_than_ms;  // created_at before this unix-ms time
  std::optional<double> q_below;         // Q of q_stage below this
  Stage q_stage = Stage::kDraft;
  std::optional<int64_t> keep_per_task;  // per task id, keep the N best by Q of q_stage (then newest)
  bool include_knowledge = false;
  bool dry_run = false;  // count only
};

class Embedder;

struct StoreOptions {
  // The similarity function. Null: the bank's own when it is the built-in structural one (new
  // banks get it); a bank recorded with another embedder then opens for reading, listing,
  // exporting and updating values, but Insert, Import and Recall fail and say which embedder to
  // configure. A non-null embedder whose name or dimension differs from the bank's is an error
  // at open.
  std::shared_ptr<const Embedder> embedder;
  bool create_if_missing = true;  // else a missing file is kNotFound
  // Open for reading only (stats, list, show, export, report): the file is never written, not
  // even its journal mode; a bank that needs a schema migration is refused with what to run.
  bool read_only = false;
  // Check the whole file's integrity (PRAGMA quick_check) before anything is written, also for a
  // bank that needs no migration: for commands that are about to write (evolve, seed, import,
  // prune), so a corrupt bank is refused untouched. Costs a read of the file. A no-op for
  // PostgreSQL, which checks its own pages.
  bool check_integrity = false;
  int busy_timeout_ms = 10000;    // how long a write waits for another process's transaction
                                  // (PostgreSQL: the session's lock_timeout)
};

// A bank of memory items.
//
// Thread safety: thread-compatible. One instance may be used from one thread at a time; use one
// instance per thread. Several instances, in one or several processes, may open the same bank
// at once: writes are serialised by the store, value updates are computed inside the database so
// none is lost, and Recall sees other instances' committed writes.
//
// Durability: when Insert, InsertMany, ApplyUpdates, Import or Prune return OK the change is
// on disk (it survives kill -9 and power loss; PostgreSQL: committed by the server); a failed
// call changes nothing (one transaction per call). Errors name the bank: its file, or its URL
// without the password.
class MemoryStore {
 public:
  virtual ~MemoryStore() = default;

  // Where the bank lives ("/home/u/.local/share/evokernel/memory.sqlite").
  virtual std::string location() const = 0;

  // Inserts one item and returns its id (assigned when empty). created_at/updated_at of 0 are
  // set to now. An existing id is kInvalidArgument.
  virtual Result<std::string> Insert(MemoryItem item) = 0;
  // Inserts all items in one transaction. An id that already exists is skipped and counted when
  // `skip_existing`, else the whole batch fails and nothing is inserted.
  virtual Result<InsertReport> InsertMany(std::vector<MemoryItem> items, bool skip_existing = false) = 0;
  // kNotFound when no item has this id.
  virtual Result<MemoryItem> Get(std::string_view id) = 0;

  // Applies every update in one transaction (Q <- Q + alpha (r - Q), visits + 1, computed by the
  // database so concurrent updates from other processes compose). Fails, changing nothing, on
  // an unknown id, stage kAny, a non-finite reward or alpha outside (0, 1].
  virtual Status ApplyUpdates(const std::vector<ValueUpdate>& updates) = 0;
  // One learning step, atomically: inserts `items` and applies `updates` in one transaction,
  // unless an item with the first item's id (which the caller must choose, deterministically
  // per step) already exists, in which case nothing changes and the result is false. This makes
  // a step idempotent: an agent that crashed after committing and redoes the step cannot apply
  // it twice. Fails, changing nothing, as Insert and ApplyUpdates do.
  virtual Result<bool> Commit(std::vector<MemoryItem> items, const std::vector<ValueUpdate>& updates) = 0;

  // The query.k items most similar to the query that pass its filters, most similar first (ties:
  // insertion order), with current values. Sees every write committed before the call,
  // including other processes'.
  virtual Result<std::vector<ScoredItem>> Recall(const RecallQuery& query) = 0;

  virtual Result<std::vector<MemoryItem>> List(const ListFilter& filter) = 0;
  virtual Result<BankStats> Stats() = 0;

  // Running reward statistics of a stage; a zero state when none was saved.
  virtual Result<NormaliserState> LoadNormaliser(Stage stage) = 0;
  // Overwrites the stage's statistics (last writer wins: a concurrent writer's last few rewards
  // may be dropped from the running mean, never the items' values).
  virtual Status SaveNormaliser(Stage stage, const NormaliserState& state) = 0;

  // JSONL: a header line {"evokernel_memory_export":1,...}, then one item per line (no
  // embeddings: the importing bank computes its own). A consistent snapshot. Returns the number
  // of items written.
  virtual Result<int64_t> Export(std::ostream& out) = 0;
  // Reads and validates every line of an export first; any bad line is an error
  // "FILE:LINE: what is wrong" and nothing changes. Then inserts all items in one transaction;
  // ids already present are skipped and counted.
  virtual Result<ImportReport> Import(const std::filesystem::path& file) = 0;

  // Removes (or with dry_run counts) the items PruneOptions describes; returns how many.
  virtual Result<int64_t> Prune(const PruneOptions& options) = 0;
};

// Opens (creating when allowed) the SQLite bank `file`, applying schema migrations. Errors:
// kNotFound (missing and !create_if_missing), kIoError (not an SQLite file, not an evokernel
// bank, corrupt: the file is left untouched), kUnavailable (written by a newer evokernel),
// kInvalidArgument (embedder mismatch).
Result<std::unique_ptr<MemoryStore>> OpenSqliteStore(const std::filesystem::path& file,
                                                     const StoreOptions& options = {});

// The one way to open a bank: `url` is a file path or a `sqlite:` URL (sqlite:PATH,
// sqlite://PATH, sqlite:///ABSOLUTE/PATH) for the SQLite store, or a `postgres://` /
// `postgresql://` URL for the PostgreSQL store shared by many hosts (docs/memory.md, "PostgreSQL
// bank"; same contract and errors, the database named by its URL without the password). Other
// `scheme://` forms are kInvalidArgument naming the scheme; a path that merely contains a colon
// is a path. An evokernel built without libpq (EVOKERNEL_WITH_POSTGRES off) answers PostgreSQL
// URLs with kUnavailable naming that build option.
Result<std::unique_ptr<MemoryStore>> OpenStore(std::string_view url, const StoreOptions& options = {});

// $EVOKERNEL_MEMORY, else $XDG_DATA_HOME/evokernel/memory.sqlite, else
// ~/.local/share/evokernel/memory.sqlite.
std::filesystem::path DefaultBankPath();

// Unix time in milliseconds.
int64_t NowMs();

}  // namespace evokernel::memory
