#include "report/run_data.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "agent/run_record.h"
#include "common/fs.h"

namespace evokernel::report {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string TypeName(const json& j) { return j.type_name(); }

// Typed access to one object's fields; the first error is kept with "where: field 'x': ...".
class Fields {
 public:
  Fields(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  const Status& status() const { return st_; }

  // Required string.
  std::string Str(const char* key) {
    const json* v = Get(key);
    if (!v) {
      Fail(key, "missing");
      return "";
    }
    if (!v->is_string()) {
      Fail(key, "expected a string, got " + TypeName(*v));
      return "";
    }
    return v->get<std::string>();
  }
  // Optional string: null or absent -> def.
  std::string OptStr(const char* key, std::string def = "") {
    const json* v = Get(key);
    if (!v || v->is_null()) return def;
    if (!v->is_string()) {
      Fail(key, "expected a string or null, got " + TypeName(*v));
      return def;
    }
    return v->get<std::string>();
  }
  int Int(const char* key, std::optional<int> def = std::nullopt) {
    const json* v = Get(key);
    if (!v || v->is_null()) {
      if (!def) Fail(key, "missing");
      return def.value_or(0);
    }
    if (!v->is_number_integer() && !v->is_number_unsigned()) {
      Fail(key, "expected an integer, got " + TypeName(*v));
      return 0;
    }
    return v->get<int>();
  }
  bool Bool(const char* key, bool def = false) {
    const json* v = Get(key);
    if (!v || v->is_null()) return def;
    if (!v->is_boolean()) {
      Fail(key, "expected true or false, got " + TypeName(*v));
      return def;
    }
    return v->get<bool>();
  }
  double Num(const char* key, double def = 0) {
    std::optional<double> v = OptNum(key);
    return v.value_or(def);
  }
  std::optional<double> OptNum(const char* key) {
    const json* v = Get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) {
      Fail(key, "expected a number or null, got " + TypeName(*v));
      return std::nullopt;
    }
    double d = v->get<double>();
    if (!std::isfinite(d)) {
      Fail(key, "not a finite number");
      return std::nullopt;
    }
    return d;
  }
  std::vector<std::string> StrList(const char* key) {
    std::vector<std::string> out;
    const json* v = Get(key);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) {
      Fail(key, "expected an array of strings, got " + TypeName(*v));
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        Fail(key, fmt::format("element {}: expected a string, got {}", i, TypeName((*v)[i])));
        return {};
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

 private:
  const json* Get(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  void Fail(const char* key, const std::string& what) {
    if (st_.ok()) st_ = InvalidArgument(where_ + ": field '" + key + "': " + what);
  }

  const json& obj_;
  std::string where_;
  Status st_;
};

Result<json> ParseJsonFile(const fs::path& file) {
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    return InvalidArgument(file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

Result<BestResult> ParseBest(const fs::path& file) {
  EVK_ASSIGN_OR_RETURN(json j, ParseJsonFile(file));
  if (!j.is_object()) return InvalidArgument(file.string() + ": expected a JSON object (a verifier result)");
  BestResult b;
  Fields f(j, file.string());
  b.iteration = f.Int("iteration", 0);
  b.feasible = f.Bool("feasible");
  b.median_ms = f.OptNum("median_ms");
  b.baseline_median_ms = f.OptNum("baseline_median_ms");
  b.speedup = f.OptNum("speedup_vs_baseline");
  b.timed = b.speedup.has_value();
  b.speedup_trusted = f.Bool("speedup_trusted");
  if (auto it = j.find("roofline"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument(file.string() + ": field 'roofline': expected an object or null");
    Fields r(*it, file.string() + ": roofline");
    b.roofline_fraction = r.OptNum("fraction");
    EVK_RETURN_IF_ERROR(r.status());
  }
  EVK_RETURN_IF_ERROR(f.status());
  b.raw = std::move(j);
  return b;
}

Result<IterationEvent> ParseIteration(const json& e, const std::string& where, int line) {
  IterationEvent it;
  it.line = line;
  Fields f(e, where);
  it.task = f.Str("task");
  it.iteration = f.Int("iteration");
  it.level = f.Int("level", 0);
  it.category = f.OptStr("category");
  it.stage = f.OptStr("stage", "draft");
  it.model = f.OptStr("model");
  it.extracted = f.Bool("extracted");
  it.compiled = f.Bool("compiled");
  it.feasible = f.Bool("feasible");
  it.new_best = f.Bool("new_best");
  it.speedup_trusted = f.Bool("speedup_trusted");
  it.from_cache = f.Bool("from_cache");
  it.outcome = f.OptStr("outcome");
  it.latency_ms = f.OptNum("latency_ms");
  it.baseline_ms = f.OptNum("baseline_ms");
  it.speedup = f.OptNum("speedup");
  it.roofline_fraction = f.OptNum("roofline_fraction");
  it.input_tokens = f.Num("input_tokens");
  it.output_tokens = f.Num("output_tokens");
  it.cost_usd = f.Num("cost_usd");
  it.reward = f.Num("reward");
  it.normalised_reward = f.Num("normalised_reward", it.reward);
  it.items_used = f.StrList("items_used");
  it.start_point = f.OptStr("start_point");
  it.item_id = f.OptStr("item_id");
  EVK_RETURN_IF_ERROR(f.status());
  if (it.task.empty()) return InvalidArgument(where + ": field 'task': empty");
  if (it.iteration < 1) return InvalidArgument(where + ": field 'iteration': must be >= 1, got " + std::to_string(it.iteration));
  if (it.stage != "draft" && it.stage != "refine")
    return InvalidArgument(where + ": field 'stage': expected \"draft\" or \"refine\", got \"" + it.stage + "\"");
  return it;
}

std::string JsonText(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

// The first non-empty value of `path` ("a.b.c") among `sources`.
std::string Pick(const std::vector<const json*>& sources, std::initializer_list<const char*> path) {
  for (const json* s : sources) {
    const json* cur = s;
    for (const char* k : path) {
      if (!cur || !cur->is_object()) {
        cur = nullptr;
        break;
      }
      auto it = cur->find(k);
      cur = it == cur->end() ? nullptr : &*it;
    }
    if (cur) {
      std::string v = JsonText(*cur);
      if (!v.empty()) return v;
    }
  }
  return "";
}

}  // namespace

std::string RunData::Label() const {
  if (method == "evokernel" && !retrieval.empty()) return method + "/" + retrieval;
  return method;
}

const TaskInfo* RunData::FindTask(const std::string& task_id) const {
  for (const auto& t : tasks)
    if (t.id == task_id) return &t;
  return nullptr;
}

EnvStamp MakeEnvStamp(const json& config, const std::map<std::string, BestResult>& best,
                      const std::vector<IterationEvent>& iterations) {
  const json empty = json::object();
  const json& env = config.contains("env") && config["env"].is_object() ? config["env"] : empty;
  const json& provider = config.contains("provider") && config["provider"].is_object() ? config["provider"] : empty;
  // Best results in task order: the first one that holds a field wins.
  std::vector<const json*> results;
  for (const auto& [task, b] : best)
    if (b.raw.contains("env") && b.raw["env"].is_object()) results.push_back(&b.raw["env"]);
  std::vector<const json*> envs = {&env};
  envs.insert(envs.end(), results.begin(), results.end());

  auto or_unknown = [](std::string s) { return s.empty() ? std::string("unknown") : s; };
  std::string threads = Pick({&config}, {"threads"});
  if (threads.empty()) threads = Pick(results, {"threads"});
  std::string model = Pick({&provider}, {"model"});
  if (model.empty())
    for (const auto& it : iterations)
      if (!it.model.empty()) {
        model = it.model;
        break;
      }
  std::string provider_text = Pick({&provider}, {"kind"});
  std::string url = Pick({&provider}, {"base_url"});
  if (!url.empty()) provider_text += (provider_text.empty() ? "" : " at ") + url;

  EnvStamp s;
  s.emplace_back("evokernel", or_unknown(Pick(envs, {"evokernel_version"})));
  s.emplace_back("commit", or_unknown(Pick(envs, {"commit"})));
  s.emplace_back("build type", or_unknown(Pick(envs, {"build_type"})));
  s.emplace_back("cpu", or_unknown(Pick(envs, {"cpu"})));
  s.emplace_back("logical cores", or_unknown(Pick(envs, {"logical_cores"})));
  s.emplace_back("threads", or_unknown(threads));
  s.emplace_back("os", or_unknown(Pick(envs, {"os"})));
  s.emplace_back("compiler", or_unknown(Pick(results, {"toolchain", "compiler"})));
  s.emplace_back("pytorch", or_unknown(Pick(results, {"reference", "torch"})));
  s.emplace_back("python", or_unknown(Pick(results, {"reference", "python"})));
  s.emplace_back("blas", or_unknown(Pick(results, {"reference", "blas"})));
  s.emplace_back("backend", or_unknown(Pick({&config}, {"backend"})));
  s.emplace_back("model", or_unknown(model));
  s.emplace_back("provider", or_unknown(provider_text));
  return s;
}

Result<RunData> LoadRun(const fs::path& runs_dir, const std::string& run) {
  if (run.empty()) return InvalidArgument("no run given (a run id under " + runs_dir.string() + " or a run directory)");
  fs::path dir = fs::path(run);
  std::error_code ec;
  if (!fs::exists(dir / "config.json", ec)) dir = runs_dir / run;
  if (!fs::exists(dir / "config.json", ec))
    return NotFound("no run '" + run + "': neither " + fs::path(run).string() + " nor " + (runs_dir / run).string() +
                    " holds a config.json (list runs with: ls " + runs_dir.string() + "; or pass --runs-dir)");
  RunData r;
  r.dir = dir;
  r.id = fs::absolute(dir, ec).lexically_normal().filename().string();
  if (r.id.empty()) r.id = fs::absolute(dir, ec).lexically_normal().parent_path().filename().string();

  // config.json
  const fs::path config_file = dir / "config.json";
  EVK_ASSIGN_OR_RETURN(r.config, ParseJsonFile(config_file));
  if (!r.config.is_object()) return InvalidArgument(config_file.string() + ": expected a JSON object");
  {
    Fields f(r.config, config_file.string());
    r.method = f.Str("method");
    r.retrieval = f.OptStr("retrieval");
    r.budget = f.Int("budget");
    EVK_RETURN_IF_ERROR(f.status());
    if (r.budget < 1) return InvalidArgument(config_file.string() + ": field 'budget': must be >= 1");
    if (auto m = r.config.find("memory"); m != r.config.end() && m->is_object()) {
      Fields mf(*m, config_file.string() + ": memory");
      r.alpha = mf.Num("alpha", r.alpha);
      r.initial_q = mf.Num("initial_q", r.initial_q);
      EVK_RETURN_IF_ERROR(mf.status());
    }
    auto tasks = r.config.find("tasks");
    if (tasks == r.config.end() || !tasks->is_array())
      return InvalidArgument(config_file.string() + ": field 'tasks': expected an array of tasks");
    for (size_t i = 0; i < tasks->size(); ++i) {
      const json& t = (*tasks)[i];
      std::string where = fmt::format("{}: tasks[{}]", config_file.string(), i);
      if (!t.is_object()) return InvalidArgument(where + ": expected an object");
      Fields tf(t, where);
      TaskInfo info;
      info.id = tf.Str("id");
      info.level = tf.Int("level", 0);
      info.category = tf.OptStr("category");
      EVK_RETURN_IF_ERROR(tf.status());
      if (r.FindTask(info.id)) return InvalidArgument(where + ": task '" + info.id + "' listed twice");
      r.tasks.push_back(std::move(info));
    }
  }

  // events.jsonl
  const fs::path events_file = dir / "events.jsonl";
  if (fs::exists(events_file, ec)) {
    EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(events_file));
    const bool ends_with_newline = !text.empty() && text.back() == '\n';
    std::istringstream in(text);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
    std::map<std::pair<std::string, int>, size_t> seen;  // (task, iteration) -> index
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      const int line_no = static_cast<int>(i) + 1;
      const std::string where = fmt::format("{}:{}", events_file.string(), line_no);
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json e;
      try {
        e = json::parse(line);
      } catch (const json::parse_error& err) {
        // A crash mid-append leaves a torn last line without its newline; evolve ignores it too.
        if (i + 1 == lines.size() && !ends_with_newline) {
          ++r.ignored_lines;
          continue;
        }
        return InvalidArgument(where + ": not valid JSON (" + err.what() + ")");
      }
      if (!e.is_object()) return InvalidArgument(where + ": expected a JSON object, got " + TypeName(e));
      Fields f(e, where);
      std::string type = f.Str("type");
      EVK_RETURN_IF_ERROR(f.status());
      if (type == "iteration") {
        EVK_ASSIGN_OR_RETURN(IterationEvent it, ParseIteration(e, where, line_no));
        if (!r.FindTask(it.task)) r.tasks.push_back({it.task, it.level, it.category});
        auto key = std::make_pair(it.task, it.iteration);
        if (auto s = seen.find(key); s != seen.end()) {
          r.iterations[s->second] = std::move(it);
        } else {
          seen[key] = r.iterations.size();
          r.iterations.push_back(std::move(it));
        }
      } else if (type == "task_error") {
        std::string task = f.Str("task");
        std::string error = f.OptStr("error");
        EVK_RETURN_IF_ERROR(f.status());
        r.task_errors[task] = error;
        if (!r.FindTask(task)) r.tasks.push_back({task, 0, ""});
      } else if (type == "run_started" || type == "resumed") {
        ++r.sessions;
        r.finished = false;
      } else if (type == "run_finished") {
        r.finished = true;
      } else if (type == "session_end") {
        r.stop_reason = f.OptStr("stop_reason");
        EVK_RETURN_IF_ERROR(f.status());
      }
    }
  }
  // Levels and categories: config first; events fill in what it lacks.
  for (auto& t : r.tasks)
    for (const auto& it : r.iterations)
      if (it.task == t.id) {
        if (t.level == 0) t.level = it.level;
        if (t.category.empty()) t.category = it.category;
      }

  // best/<task>/result.json
  for (const auto& t : r.tasks) {
    fs::path file = dir / "best" / TaskDirName(t.id) / "result.json";
    if (!fs::exists(file, ec)) continue;
    EVK_ASSIGN_OR_RETURN(BestResult b, ParseBest(file));
    r.best[t.id] = std::move(b);
  }
  r.env = MakeEnvStamp(r.config, r.best, r.iterations);
  return r;
}

}  // namespace evokernel::report
