#include "memory/memory.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <set>
#include <unordered_set>

#include "common/strings.h"
#include "memory/json_fields.h"

namespace evokernel::memory {
namespace fs = std::filesystem;

std::string_view ItemKindName(ItemKind k) {
  switch (k) {
    case ItemKind::kKnowledge: return "knowledge";
    case ItemKind::kSummary: return "summary";
    case ItemKind::kTrace: return "trace";
    case ItemKind::kBestPractice: return "best_practice";
  }
  return "unknown";
}

Result<ItemKind> ParseItemKind(std::string_view name) {
  for (ItemKind k : kAllKinds)
    if (ItemKindName(k) == name) return k;
  return InvalidArgument("unknown item kind '" + std::string(name) +
                         "' (expected knowledge, summary, trace or best_practice)");
}

std::string_view StageName(Stage s) {
  switch (s) {
    case Stage::kDraft: return "draft";
    case Stage::kRefine: return "refine";
    case Stage::kAny: return "any";
  }
  return "unknown";
}

Result<Stage> ParseStage(std::string_view name) {
  for (Stage s : {Stage::kDraft, Stage::kRefine, Stage::kAny})
    if (StageName(s) == name) return s;
  return InvalidArgument("unknown stage '" + std::string(name) + "' (expected draft, refine or any)");
}

Result<ListOrder> ParseListOrder(std::string_view name) {
  if (name == "newest") return ListOrder::kNewest;
  if (name == "oldest") return ListOrder::kOldest;
  if (name == "q" || name == "q-desc") return ListOrder::kQDesc;
  if (name == "q-asc") return ListOrder::kQAsc;
  return InvalidArgument("unknown order '" + std::string(name) + "' (expected newest, oldest, q or q-asc)");
}

namespace {


// Calls and modules that describe bookkeeping, tensor creation or Python rather than the
// computation. They occur in almost every task, so keeping them would make all tasks look alike.
const std::unordered_set<std::string>& NoiseOps() {
  static const std::unordered_set<std::string> kNoise = {
      "parameter", "buffer", "registerbuffer", "randn", "rand", "randint", "randnlike",
      "randlike", "randperm", "zeros", "ones", "empty", "full", "zeroslike", "oneslike",
      "emptylike", "fulllike", "tensor", "astensor", "fromnumpy", "arange", "linspace", "super",
      "init", "size", "dim", "numel", "item", "shape", "to", "cuda", "cpu", "float", "double",
      "half", "int", "long", "bool", "type", "contiguous", "view", "reshape", "unsqueeze",
      "squeeze", "expand", "expandas", "clone", "detach", "modulelist", "moduledict",
      "sequential", "module", "identity", "len", "range", "print", "isinstance", "getattr",
      "setattr", "hasattr", "append", "format", "tuple", "list", "dict", "enumerate", "zip",
      "manualseed", "nograd", "copy", "fill"};
  return kNoise;
}

}  // namespace

std::string NormaliseOpName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == '.' || c == ' ' || c == '-') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (NoiseOps().count(out)) return "";
  return out;
}

std::vector<std::string> TaskSignature::Categories() const {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= category.size()) {
    size_t comma = category.find(',', start);
    if (comma == std::string::npos) comma = category.size();
    std::string c = Trim(std::string_view(category).substr(start, comma - start));
    if (!c.empty()) out.push_back(std::move(c));
    start = comma + 1;
  }
  return out;
}

nlohmann::json TaskSignature::ToJson() const {
  return {{"task_id", task_id},   {"category", category}, {"level", level},
          {"backend", backend},   {"ops", ops},           {"shapes", shapes},
          {"num_inputs", num_inputs}, {"text", text}};
}

Result<TaskSignature> TaskSignature::FromJson(const nlohmann::json& j, std::string_view where) {
  TaskSignature s;
  FieldReader f(j, std::string(where));
  EVK_RETURN_IF_ERROR(f.status());
  EVK_RETURN_IF_ERROR(f.String("task_id", s.task_id));
  EVK_RETURN_IF_ERROR(f.String("category", s.category));
  int64_t level = 0;
  EVK_RETURN_IF_ERROR(f.Int("level", level, 0, 1000));
  s.level = static_cast<int>(level);
  EVK_RETURN_IF_ERROR(f.String("backend", s.backend));
  EVK_RETURN_IF_ERROR(f.StringList("ops", s.ops));
  EVK_RETURN_IF_ERROR(f.Shapes("shapes", s.shapes));
  int64_t num_inputs = 0;
  EVK_RETURN_IF_ERROR(f.Int("num_inputs", num_inputs, 0, static_cast<int64_t>(s.shapes.size())));
  s.num_inputs = static_cast<size_t>(num_inputs);
  EVK_RETURN_IF_ERROR(f.String("text", s.text));
  EVK_RETURN_IF_ERROR(f.Finish());
  return s;
}

TaskSignature SignatureFromSpec(const TaskSpec& spec, std::string_view backend) {
  TaskSignature s;
  s.task_id = spec.ref.id;
  s.category = spec.ref.category;
  s.level = spec.ref.level;
  s.backend = std::string(backend);
  std::set<std::string> ops;
  for (const auto* names : {&spec.modules, &spec.calls})
    for (const auto& n : *names)
      if (std::string op = NormaliseOpName(n); !op.empty()) ops.insert(op);
  s.ops.assign(ops.begin(), ops.end());
  for (const auto& a : spec.args)
    if (a.role != ArgRole::kOutput) s.shapes.push_back(a.shape);
  s.num_inputs = s.shapes.size();
  for (const auto& a : spec.args)
    if (a.role == ArgRole::kOutput) s.shapes.push_back(a.shape);
  s.text = spec.ref.description;
  if (!spec.doc.empty()) s.text += (s.text.empty() ? "" : "\n") + spec.doc;
  return s;
}

nlohmann::json MemoryItem::ToJson() const {
  nlohmann::json j = {{"id", id},
                      {"kind", std::string(ItemKindName(kind))},
                      {"backend", backend},
                      {"stage", std::string(StageName(stage))},
                      {"title", title},
                      {"content", content},
                      {"outcome", outcome},
                      {"feedback", feedback},
                      {"reward", reward},
                      {"latency_ms", nullptr},
                      {"parent_id", parent_id},
                      {"q_draft", q_draft},
                      {"q_refine", q_refine},
                      {"visits_draft", visits_draft},
                      {"visits_refine", visits_refine},
                      {"created_at", created_at},
                      {"updated_at", updated_at},
                      {"model", model},
                      {"run_id", run_id},
                      {"signature", signature.ToJson()}};
  if (latency_ms) j["latency_ms"] = *latency_ms;
  if (!state_values.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : state_values)
      a.push_back({{"stage", std::string(StageName(v.stage))},
                   {"state", v.state},
                   {"q", v.q},
                   {"visits", v.visits},
                   {"updated_at", v.updated_at}});
    j["state_values"] = std::move(a);
  }
  return j;
}

const StateValue* MemoryItem::FindStateValue(Stage stage, std::string_view state) const {
  for (const auto& v : state_values)
    if (v.stage == stage && v.state == state) return &v;
  return nullptr;
}

Result<MemoryItem> MemoryItem::FromJson(const nlohmann::json& j) {
  MemoryItem m;
  FieldReader f(j, "");
  EVK_RETURN_IF_ERROR(f.status());
  EVK_RETURN_IF_ERROR(f.String("id", m.id));
  std::string kind, stage;
  EVK_RETURN_IF_ERROR(f.String("kind", kind, /*required=*/true));
  auto k = ParseItemKind(kind);
  if (!k.ok()) return f.Error("kind", k.status().message());
  m.kind = *k;
  EVK_RETURN_IF_ERROR(f.String("stage", stage, /*required=*/true));
  auto s = ParseStage(stage);
  if (!s.ok()) return f.Error("stage", s.status().message());
  m.stage = *s;
  EVK_RETURN_IF_ERROR(f.String("backend", m.backend, /*required=*/true));
  EVK_RETURN_IF_ERROR(f.String("content", m.content, /*required=*/true));
  EVK_RETURN_IF_ERROR(f.String("title", m.title));
  EVK_RETURN_IF_ERROR(f.String("outcome", m.outcome));
  EVK_RETURN_IF_ERROR(f.String("feedback", m.feedback));
  EVK_RETURN_IF_ERROR(f.Number("reward", m.reward));
  EVK_RETURN_IF_ERROR(f.OptionalNumber("latency_ms", m.latency_ms));
  if (m.latency_ms && *m.latency_ms < 0) return f.Error("latency_ms", "must be >= 0");
  EVK_RETURN_IF_ERROR(f.String("parent_id", m.parent_id));
  EVK_RETURN_IF_ERROR(f.Number("q_draft", m.q_draft));
  EVK_RETURN_IF_ERROR(f.Number("q_refine", m.q_refine));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EVK_RETURN_IF_ERROR(f.Int("visits_draft", m.visits_draft, 0, kMax));
  EVK_RETURN_IF_ERROR(f.Int("visits_refine", m.visits_refine, 0, kMax));
  EVK_RETURN_IF_ERROR(f.Int("created_at", m.created_at, 0, kMax));
  EVK_RETURN_IF_ERROR(f.Int("updated_at", m.updated_at, 0, kMax));
  EVK_RETURN_IF_ERROR(f.String("model", m.model));
  EVK_RETURN_IF_ERROR(f.String("run_id", m.run_id));
  if (const nlohmann::json* sig = f.Take("signature")) {
    auto parsed = TaskSignature::FromJson(*sig, "signature");
    if (!parsed.ok()) return parsed.status();
    m.signature = std::move(parsed).value();
  }
  if (const nlohmann::json* sv = f.Take("state_values")) {
    if (!sv->is_array()) return f.Error("state_values", std::string("expected an array, got ") + sv->type_name());
    std::set<std::pair<Stage, std::string>> seen;
    for (size_t i = 0; i < sv->size(); ++i) {
      const std::string where = "state_values[" + std::to_string(i) + "]";
      FieldReader e((*sv)[i], where);
      EVK_RETURN_IF_ERROR(e.status());
      StateValue v;
      std::string vstage;
      EVK_RETURN_IF_ERROR(e.String("stage", vstage, /*required=*/true));
      auto st = ParseStage(vstage);
      if (!st.ok() || *st == Stage::kAny) return e.Error("stage", "must be draft or refine, got '" + vstage + "'");
      v.stage = *st;
      EVK_RETURN_IF_ERROR(e.String("state", v.state, /*required=*/true));
      if (v.state.empty()) return e.Error("state", "must not be empty");
      EVK_RETURN_IF_ERROR(e.Number("q", v.q, /*required=*/true));
      EVK_RETURN_IF_ERROR(e.Int("visits", v.visits, 0, kMax, /*required=*/true));
      EVK_RETURN_IF_ERROR(e.Int("updated_at", v.updated_at, 0, kMax));
      EVK_RETURN_IF_ERROR(e.Finish());
      if (!seen.insert({v.stage, v.state}).second)
        return InvalidArgument("field '" + where + "': duplicate value for stage " + vstage + ", state '" + v.state + "'");
      m.state_values.push_back(std::move(v));
    }
    std::sort(m.state_values.begin(), m.state_values.end(), [](const StateValue& a, const StateValue& b) {
      return a.stage != b.stage ? a.stage < b.stage : a.state < b.state;
    });
  }
  EVK_RETURN_IF_ERROR(f.Finish());
  return m;
}

nlohmann::json QSummary::ToJson() const {
  return {{"visited", visited}, {"min", min}, {"p25", p25}, {"median", median},
          {"p75", p75},         {"max", max}, {"mean", mean}};
}

nlohmann::json BankStats::ToJson() const {
  return {{"location", location},     {"schema_version", schema_version},
          {"embedder", embedder},     {"dim", dim},
          {"items", items},           {"by_kind", by_kind},
          {"by_backend", by_backend}, {"by_stage", by_stage},
          {"by_outcome", by_outcome}, {"q_draft", q_draft.ToJson()},
          {"q_refine", q_refine.ToJson()}, {"file_bytes", file_bytes},
          {"state_values", state_values}};
}

fs::path DefaultBankPath() {
  if (const char* m = std::getenv("EVOKERNEL_MEMORY"); m && *m) return m;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return fs::path(x) / "evokernel" / "memory.sqlite";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".local" / "share" / "evokernel" / "memory.sqlite";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace evokernel::memory
