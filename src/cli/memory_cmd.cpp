// `evokernel memory ...`: the memory bank from the command line.
//
//   evokernel memory stats                       counts per kind/backend/stage/outcome, Q spread
//   evokernel memory list [filters]              items, newest first (or by Q)
//   evokernel memory show ID                     one item with its content and per-state values
//   evokernel memory export [-o FILE]            JSONL (stdout by default)
//   evokernel memory import FILE                 add a JSONL export's items (existing ids skipped)
//   evokernel memory prune [criteria] [--dry-run]
//   evokernel memory seed --backend cpu [--dir]  load the shipped knowledge notes
//
// Every subcommand takes --bank (EVOKERNEL_MEMORY) and --json. Exit codes: 0 success, 2 failure
// (message on stderr).
#include "cli/memory_cmd.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "memory/memory.h"
#include "memory/seed.h"
#include "memory/signature.h"
#include "verifier/verifier.h"

namespace evokernel {
namespace fs = std::filesystem;
namespace mem = memory;

namespace {

int Fail(const Status& st) {
  std::cerr << "evokernel: error: " << st.ToString() << "\n";
  return kExitError;
}

struct BankOptions {
  std::string bank;
  bool json = false;
  // Embedder (only used by the subcommands that embed: import, seed).
  std::string embedder;  // "", "structural", "http"
  std::string embed_url, embed_model, embed_key_env = "EVOKERNEL_EMBED_API_KEY";
  int embed_dim = 0;
  double embed_timeout_s = 30;

  fs::path Path() const { return bank.empty() ? mem::DefaultBankPath() : fs::path(bank); }
};

void AddBankOptions(CLI::App* app, BankOptions& o) {
  app->add_option("--bank", o.bank,
                  "Memory bank file (default: $XDG_DATA_HOME/evokernel/memory.sqlite, else "
                  "~/.local/share/evokernel/memory.sqlite)")
      ->envname("EVOKERNEL_MEMORY");
  app->add_flag("--json", o.json, "Machine-readable JSON on stdout");
}

void AddEmbedderOptions(CLI::App* app, BankOptions& o) {
  app->add_option("--embedder", o.embedder,
                  "Similarity function: structural (built in) or http (an OpenAI-compatible "
                  "/embeddings endpoint). Default: the bank's own (structural for a new bank)")
      ->envname("EVOKERNEL_EMBEDDER")
      ->check(CLI::IsMember({"structural", "http"}));
  app->add_option("--embed-url", o.embed_url, "Base URL of the embeddings endpoint, e.g. http://127.0.0.1:8080/v1")
      ->envname("EVOKERNEL_EMBED_URL");
  app->add_option("--embed-model", o.embed_model, "Embedding model name")->envname("EVOKERNEL_EMBED_MODEL");
  app->add_option("--embed-dim", o.embed_dim, "Dimension of the model's vectors")->envname("EVOKERNEL_EMBED_DIM");
  app->add_option("--embed-key-env", o.embed_key_env,
                  "Name of the environment variable holding the endpoint's API key (never logged)")
      ->default_val("EVOKERNEL_EMBED_API_KEY");
  app->add_option("--embed-timeout", o.embed_timeout_s, "Seconds one embeddings request may take")
      ->default_val(30)
      ->check(CLI::Range(0.001, 3600.0));
}

// `create`: a missing bank is created (seed, import); `read_only`: the file is never written
// (stats, list, show, export).
Result<std::unique_ptr<mem::MemoryStore>> Open(const BankOptions& o, bool create, bool read_only = false) {
  mem::StoreOptions so;
  so.create_if_missing = create;
  so.read_only = read_only;
  so.check_integrity = !read_only;  // seed, import and prune write: never into a corrupt bank
  if (o.embedder == "structural") {
    so.embedder = mem::MakeStructuralEmbedder();
  } else if (o.embedder == "http") {
    mem::HttpEmbedderOptions h;
    h.base_url = o.embed_url;
    h.model = o.embed_model;
    h.dim = o.embed_dim;
    h.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.embed_timeout_s * 1000));
    const char* key = std::getenv(o.embed_key_env.c_str());
    h.api_key_env = (key && *key) ? o.embed_key_env : "";
    EVK_ASSIGN_OR_RETURN(so.embedder, mem::MakeHttpEmbedder(h));
  }
  return mem::OpenStore(o.Path().string(), so);
}

// Item text may hold bytes that are not UTF-8 (model output): replaced, never a thrown exception.
std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string Clip(std::string s, size_t n) {
  for (char& c : s)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  if (s.size() <= n) return s;
  size_t cut = n - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  return s.substr(0, cut) + "...";
}

std::string Bytes(int64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < (int64_t{1} << 20)) return fmt::format("{:.1f} KiB", b / 1024.0);
  if (b < (int64_t{1} << 30)) return fmt::format("{:.1f} MiB", b / 1048576.0);
  return fmt::format("{:.2f} GiB", b / 1073741824.0);
}

std::string Counts(const std::map<std::string, int64_t>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + fmt::format("{} {}", k, v);
  return s.empty() ? "-" : s;
}

std::string QLine(const mem::QSummary& q) {
  if (q.visited == 0) return "no item updated yet";
  return fmt::format("{} items updated: min {:.3f}, p25 {:.3f}, median {:.3f}, p75 {:.3f}, max {:.3f}, mean {:.3f}",
                     q.visited, q.min, q.p25, q.median, q.p75, q.max, q.mean);
}

class MemoryCommandImpl final : public MemoryCommand {
 public:
  explicit MemoryCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("memory", "Inspect and maintain the experience memory bank");
    cmd_->require_subcommand(1);

    stats_ = cmd_->add_subcommand("stats", "Counts per kind, backend, stage and outcome; Q distributions; size");
    AddBankOptions(stats_, o_);

    list_ = cmd_->add_subcommand("list", "List items (newest first by default)");
    AddBankOptions(list_, o_);
    list_->add_option("--kind", kind_, "Only this kind")->check(CLI::IsMember({"knowledge", "summary", "trace", "best_practice"}));
    list_->add_option("--backend", backend_, "Only this backend");
    list_->add_option("--task", task_, "Only items of this task id");
    list_->add_option("--stage", stage_, "Only items of this stage")->check(CLI::IsMember({"draft", "refine", "any"}));
    list_->add_option("--outcome", outcome_, "Only items with this verifier outcome (feasible, correctness/wrong_answer, ...)");
    list_->add_option("--parent", parent_, "Only variants refined from this item");
    list_->add_option("--min-q", min_q_, "Only items whose Q (of --q-stage) is at least this");
    list_->add_option("--max-q", max_q_, "Only items whose Q (of --q-stage) is at most this");
    list_->add_option("--q-stage", q_stage_, "Which Q --min-q, --max-q and --order q use")
        ->default_val("draft")
        ->check(CLI::IsMember({"draft", "refine"}));
    list_->add_option("--order", order_, "newest, oldest, q (highest first) or q-asc")
        ->default_val("newest")
        ->check(CLI::IsMember({"newest", "oldest", "q", "q-asc"}));
    list_->add_option("--limit", limit_, "At most this many items (0: all)")->default_val(50)->check(CLI::NonNegativeNumber);

    show_ = cmd_->add_subcommand("show", "Show one item with its content");
    AddBankOptions(show_, o_);
    show_->add_option("id", id_, "Item id")->required();

    export_ = cmd_->add_subcommand("export", "Write every item as JSONL (a header line, then one item per line)");
    AddBankOptions(export_, o_);
    export_->add_option("-o,--output", output_, "File to write (default: stdout)");

    import_ = cmd_->add_subcommand("import", "Add the items of a JSONL export; ids already present are skipped");
    AddBankOptions(import_, o_);
    AddEmbedderOptions(import_, o_);
    import_->add_option("file", file_, "Export file")->required();

    prune_ = cmd_->add_subcommand("prune", "Remove items matching every given criterion (knowledge is kept unless asked)");
    AddBankOptions(prune_, o_);
    prune_->add_option("--kind", kind_, "Only this kind")->check(CLI::IsMember({"knowledge", "summary", "trace", "best_practice"}));
    prune_->add_option("--backend", backend_, "Only this backend");
    prune_->add_option("--older-than", older_days_, "Criterion: created more than this many days ago")->check(CLI::NonNegativeNumber);
    prune_->add_option("--q-below", q_below_, "Criterion: Q (of --q-stage) below this");
    prune_->add_option("--keep-per-task", keep_, "Criterion: beyond the N best (by Q of --q-stage) of their task")
        ->check(CLI::NonNegativeNumber);
    prune_->add_option("--q-stage", q_stage_, "Which Q the criteria use")->default_val("draft")->check(CLI::IsMember({"draft", "refine"}));
    prune_->add_flag("--include-knowledge", include_knowledge_, "Also prune knowledge items and seeded notes");
    prune_->add_flag("--dry-run", dry_run_, "Only count what would be removed");

    seed_ = cmd_->add_subcommand("seed", "Load the shipped knowledge notes of a backend (idempotent)");
    AddBankOptions(seed_, o_);
    AddEmbedderOptions(seed_, o_);
    seed_->add_option("--backend,-b", seed_backend_, "Backend")->default_val("cpu")->envname("EVOKERNEL_BACKEND");
    seed_->add_option("--dir", dir_, "Directory of notes (default: <data dir>/knowledge/<backend>)");
  }

  bool parsed() const override { return cmd_->parsed(); }

  int Run() override {
    if (stats_->parsed()) return Stats();
    if (list_->parsed()) return List();
    if (show_->parsed()) return Show();
    if (export_->parsed()) return Export();
    if (import_->parsed()) return Import();
    if (prune_->parsed()) return Prune();
    if (seed_->parsed()) return Seed();
    return Fail(InvalidArgument("memory: no subcommand"));
  }

 private:
  int Stats() {
    auto store = Open(o_, false, /*read_only=*/true);
    if (!store.ok()) return Fail(store.status());
    auto s = (*store)->Stats();
    if (!s.ok()) return Fail(s.status());
    if (o_.json) {
      std::cout << Dump(s->ToJson());
      return 0;
    }
    std::cout << fmt::format("bank       {}\n", s->location);
    std::cout << fmt::format("format     schema {}, embedder {} ({} dims), {}\n", s->schema_version, s->embedder,
                             s->dim, Bytes(s->file_bytes));
    std::cout << fmt::format("items      {}\n", s->items);
    std::cout << fmt::format("  kind     {}\n", Counts(s->by_kind));
    std::cout << fmt::format("  backend  {}\n", Counts(s->by_backend));
    std::cout << fmt::format("  stage    {}\n", Counts(s->by_stage));
    std::cout << fmt::format("  outcome  {}\n", Counts(s->by_outcome));
    std::cout << fmt::format("Q draft    {}\n", QLine(s->q_draft));
    std::cout << fmt::format("Q refine   {}\n", QLine(s->q_refine));
    std::cout << fmt::format("Q by state {} (item, stage, task category) value(s)\n", s->state_values);
    return 0;
  }

  int List() {
    mem::ListFilter f;
    if (!kind_.empty()) f.kind = *mem::ParseItemKind(kind_);
    if (!stage_.empty()) f.stage = *mem::ParseStage(stage_);
    f.backend = backend_;
    f.task_id = task_;
    f.outcome = outcome_;
    f.parent_id = parent_;
    f.q_stage = *mem::ParseStage(q_stage_);
    if (list_->count("--min-q")) f.min_q = min_q_;
    if (list_->count("--max-q")) f.max_q = max_q_;
    auto order = mem::ParseListOrder(order_);
    if (!order.ok()) return Fail(order.status());
    f.order = *order;
    f.limit = limit_;
    auto store = Open(o_, false, /*read_only=*/true);
    if (!store.ok()) return Fail(store.status());
    auto items = (*store)->List(f);
    if (!items.ok()) return Fail(items.status());
    if (o_.json) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& m : *items) a.push_back(m.ToJson());
      std::cout << Dump(a);
      return 0;
    }
    std::cout << fmt::format("{:<22} {:<13} {:<6} {:<28} {:<24} {:>7} {:>7} {:>6}  {}\n", "ID", "KIND", "STAGE", "TASK",
                             "OUTCOME", "Q_DRAFT", "Q_REFINE", "VISITS", "TITLE");
    for (const auto& m : *items)
      std::cout << fmt::format("{:<22} {:<13} {:<6} {:<28} {:<24} {:>7.3f} {:>8.3f} {:>6}  {}\n", m.id,
                               mem::ItemKindName(m.kind), mem::StageName(m.stage),
                               Clip(m.signature.task_id.empty() ? "-" : m.signature.task_id, 28),
                               Clip(m.outcome.empty() ? "-" : m.outcome, 24), m.q_draft, m.q_refine,
                               m.visits_draft + m.visits_refine, Clip(m.title, 60));
    std::cout << fmt::format("{} item(s)\n", items->size());
    return 0;
  }

  int Show() {
    auto store = Open(o_, false, /*read_only=*/true);
    if (!store.ok()) return Fail(store.status());
    auto m = (*store)->Get(id_);
    if (!m.ok()) return Fail(m.status());
    if (o_.json) {
      std::cout << Dump(m->ToJson());
      return 0;
    }
    const auto& s = m->signature;
    std::cout << fmt::format("id         {}\nkind       {}\nstage      {}\nbackend    {}\ntitle      {}\n", m->id,
                             mem::ItemKindName(m->kind), mem::StageName(m->stage), m->backend, m->title);
    if (!s.task_id.empty()) std::cout << fmt::format("task       {} (level {})\n", s.task_id, s.level);
    if (!s.category.empty()) std::cout << fmt::format("category   {}\n", s.category);
    if (!s.ops.empty()) {
      std::string ops;
      for (const auto& op : s.ops) ops += (ops.empty() ? "" : " ") + op;
      std::cout << fmt::format("operators  {}\n", ops);
    }
    if (!m->outcome.empty()) std::cout << fmt::format("outcome    {}\n", m->outcome);
    std::cout << fmt::format("reward     {:.4f}{}\n", m->reward,
                             m->latency_ms ? fmt::format(" (latency {:.4g} ms)", *m->latency_ms) : "");
    if (!m->parent_id.empty()) std::cout << fmt::format("parent     {}\n", m->parent_id);
    std::cout << fmt::format("Q draft    {:.4f} ({} updates)\nQ refine   {:.4f} ({} updates)\n", m->q_draft,
                             m->visits_draft, m->q_refine, m->visits_refine);
    // Q(s, m) per state (the task categories whose rewards updated it); what --value-scope
    // category and neighbourhood rank by.
    if (m->state_values.empty()) {
      std::cout << "Q by state none yet (no update named a task category)\n";
    } else {
      std::cout << "Q by state stage   state                    Q        updates\n";
      for (const auto& v : m->state_values)
        std::cout << fmt::format("           {:<7} {:<24} {:>7.4f}  {}\n", mem::StageName(v.stage), Clip(v.state, 24), v.q,
                                 v.visits);
    }
    if (!m->model.empty() || !m->run_id.empty())
      std::cout << fmt::format("provenance model {}, run {}\n", m->model.empty() ? "-" : m->model,
                               m->run_id.empty() ? "-" : m->run_id);
    if (!m->feedback.empty()) std::cout << "feedback:\n" << m->feedback << (m->feedback.back() == '\n' ? "" : "\n");
    std::cout << "content:\n" << m->content << (m->content.empty() || m->content.back() == '\n' ? "" : "\n");
    return 0;
  }

  int Export() {
    auto store = Open(o_, false, /*read_only=*/true);
    if (!store.ok()) return Fail(store.status());
    if (output_.empty()) {
      auto n = (*store)->Export(std::cout);
      return n.ok() ? 0 : Fail(n.status());
    }
    // Written beside the target and renamed, so a failed export never leaves half a file.
    fs::path out(output_);
    fs::path tmp = out;
    tmp += fmt::format(".tmp.{}", getpid());
    int64_t count = 0;
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f) return Fail(IoError("cannot write " + tmp.string() + ": " + std::strerror(errno)));
      auto n = (*store)->Export(f);
      if (!n.ok()) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return Fail(n.status());
      }
      count = *n;
    }
    std::error_code ec;
    fs::rename(tmp, out, ec);
    if (ec) return Fail(IoError("cannot rename " + tmp.string() + " to " + out.string() + ": " + ec.message()));
    if (o_.json)
      std::cout << Dump(nlohmann::json({{"bank", (*store)->location()}, {"file", out.string()}, {"items", count}}));
    else
      std::cout << fmt::format("exported {} item(s) from {} to {}\n", count, (*store)->location(), out.string());
    return 0;
  }

  int Import() {
    auto store = Open(o_, true);
    if (!store.ok()) return Fail(store.status());
    auto r = (*store)->Import(file_);
    if (!r.ok()) return Fail(r.status());
    if (o_.json)
      std::cout << Dump(nlohmann::json({{"bank", (*store)->location()}, {"file", file_}, {"lines", r->lines},
                                   {"added", r->added}, {"skipped", r->skipped}}));
    else
      std::cout << fmt::format("imported {} into {}: {} added, {} skipped (already present), {} item line(s)\n",
                               file_, (*store)->location(), r->added, r->skipped, r->lines);
    return 0;
  }

  int Prune() {
    mem::PruneOptions p;
    if (!kind_.empty()) p.kind = *mem::ParseItemKind(kind_);
    p.backend = backend_;
    if (prune_->count("--older-than"))
      p.older_than_ms = mem::NowMs() - static_cast<int64_t>(std::llround(older_days_ * 86400000.0));
    if (prune_->count("--q-below")) p.q_below = q_below_;
    if (prune_->count("--keep-per-task")) p.keep_per_task = keep_;
    p.q_stage = *mem::ParseStage(q_stage_);
    p.include_knowledge = include_knowledge_;
    p.dry_run = dry_run_;
    auto store = Open(o_, false);
    if (!store.ok()) return Fail(store.status());
    auto n = (*store)->Prune(p);
    if (!n.ok()) return Fail(n.status());
    if (o_.json)
      std::cout << Dump(nlohmann::json({{"bank", (*store)->location()}, {"dry_run", dry_run_}, {"pruned", *n}}));
    else
      std::cout << fmt::format("{} {} item(s) from {}\n", dry_run_ ? "would prune" : "pruned", *n, (*store)->location());
    return 0;
  }

  int Seed() {
    fs::path dir = dir_.empty() ? mem::DefaultKnowledgeDir(seed_backend_) : fs::path(dir_);
    auto store = Open(o_, true);
    if (!store.ok()) return Fail(store.status());
    auto r = mem::SeedKnowledge(**store, seed_backend_, dir);
    if (!r.ok()) return Fail(r.status());
    if (o_.json)
      std::cout << Dump(nlohmann::json({{"bank", (*store)->location()}, {"dir", dir.string()}, {"backend", seed_backend_},
                                   {"notes", r->files}, {"added", r->added}, {"skipped", r->skipped}}));
    else
      std::cout << fmt::format("seeded {} note(s) from {} into {}: {} added, {} already present\n", r->files,
                               dir.string(), (*store)->location(), r->added, r->skipped);
    return 0;
  }

  CLI::App *cmd_, *stats_, *list_, *show_, *export_, *import_, *prune_, *seed_;
  BankOptions o_;
  std::string kind_, backend_, task_, stage_, outcome_, parent_, q_stage_ = "draft", order_ = "newest";
  double min_q_ = 0, max_q_ = 0, q_below_ = 0, older_days_ = 0;
  int64_t limit_ = 50, keep_ = 0;
  std::string id_, output_, file_, seed_backend_ = "cpu", dir_;
  bool include_knowledge_ = false, dry_run_ = false;
};

}  // namespace

std::unique_ptr<MemoryCommand> MemoryCommand::Add(CLI::App& app) { return std::make_unique<MemoryCommandImpl>(app); }

}  // namespace evokernel
