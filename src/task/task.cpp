#include "task/task.h"

#include <algorithm>
#include <set>

#include <toml++/toml.h>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

namespace {

std::string Where(const fs::path& file, const toml::source_region& r) {
  return file.string() + ":" + std::to_string(r.begin.line);
}

Result<nlohmann::json> TomlToJson(const toml::node& n, const std::string& where) {
  if (auto v = n.as_integer()) return nlohmann::json(v->get());
  if (auto v = n.as_floating_point()) return nlohmann::json(v->get());
  if (auto v = n.as_boolean()) return nlohmann::json(v->get());
  if (auto v = n.as_string()) return nlohmann::json(v->get());
  if (auto a = n.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : *a) {
      EVK_ASSIGN_OR_RETURN(auto j, TomlToJson(e, where));
      out.push_back(std::move(j));
    }
    return out;
  }
  return InvalidTask(where + ": override values must be numbers, booleans, strings or arrays");
}

Result<double> TomlNumber(const toml::node& n, const std::string& where, const std::string& key) {
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_integer()) return static_cast<double>(v->get());
  return InvalidTask(where + ": '" + key + "' must be a number");
}

Status ApplyTolerance(const toml::table& t, const fs::path& file, TaskRef& ref) {
  for (const char* key : {"atol", "rtol"}) {
    if (const toml::node* n = t.get(key)) {
      EVK_ASSIGN_OR_RETURN(double v, TomlNumber(*n, Where(file, n->source()), key));
      if (!(v >= 0)) return InvalidTask(Where(file, n->source()) + ": '" + key + "' must be >= 0");
      (std::string(key) == "atol" ? ref.atol : ref.rtol) = v;
    }
  }
  return Status::Ok();
}

}  // namespace

nlohmann::json TaskRef::ToJson() const {
  return {{"id", id},         {"file", file.string()},   {"suite", suite},
          {"level", level},   {"category", category},    {"description", description},
          {"atol", atol},     {"rtol", rtol},            {"overrides", overrides}};
}

Result<Suite> LoadSuite(const fs::path& dir) {
  Suite suite;
  suite.dir = dir;
  suite.name = dir.filename().string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("suite directory not found: " + dir.string());

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".py") files.push_back(e.path());
  std::sort(files.begin(), files.end());

  TaskRef defaults;
  toml::table manifest;
  fs::path manifest_path = dir / "suite.toml";
  bool have_manifest = fs::exists(manifest_path, ec);
  if (have_manifest) {
    try {
      manifest = toml::parse_file(manifest_path.string());
    } catch (const toml::parse_error& e) {
      return InvalidTask(manifest_path.string() + ":" + std::to_string(e.source().begin.line) +
                         ": " + std::string(e.description()));
    }
    static const std::set<std::string> kTop = {"name", "level", "description", "defaults",
                                               "tasks"};
    for (const auto& [k, v] : manifest) {
      if (!kTop.count(std::string(k.str())))
        return InvalidTask(Where(manifest_path, v.source()) + ": unknown key '" +
                           std::string(k.str()) + "' (allowed: name, level, description, " +
                           "defaults, tasks)");
    }
    if (auto n = manifest["name"].value<std::string>()) suite.name = *n;
    if (const toml::node* lv = manifest.get("level")) {
      auto l = lv->value<int64_t>();
      if (!l) return InvalidTask(Where(manifest_path, lv->source()) + ": 'level' must be an integer");
      suite.level = static_cast<int>(*l);
    }
    if (auto d = manifest["description"].value<std::string>()) suite.description = *d;
    if (const toml::table* d = manifest["defaults"].as_table())
      EVK_RETURN_IF_ERROR(ApplyTolerance(*d, manifest_path, defaults));
  }

  std::set<std::string> stems;
  for (const auto& f : files) stems.insert(f.stem().string());
  const toml::table* entries = manifest["tasks"].as_table();
  if (entries) {
    for (const auto& [k, v] : *entries) {
      std::string stem(k.str());
      if (!stems.count(stem))
        return InvalidTask(Where(manifest_path, v.source()) + ": [tasks." + stem +
                           "] has no task file " + (dir / (stem + ".py")).string());
      if (!v.is_table())
        return InvalidTask(Where(manifest_path, v.source()) + ": [tasks." + stem +
                           "] must be a table");
    }
  }

  for (const auto& f : files) {
    TaskRef ref = defaults;
    ref.file = f;
    ref.suite = suite.name;
    ref.level = suite.level;
    ref.id = suite.name + "/" + f.stem().string();
    const toml::table* t = entries ? (*entries)[f.stem().string()].as_table() : nullptr;
    if (t) {
      static const std::set<std::string> kKeys = {"category", "description", "atol", "rtol",
                                                  "overrides"};
      for (const auto& [k, v] : *t) {
        if (!kKeys.count(std::string(k.str())))
          return InvalidTask(Where(manifest_path, v.source()) + ": unknown key '" +
                             std::string(k.str()) + "' in [tasks." + f.stem().string() +
                             "] (allowed: category, description, atol, rtol, overrides)");
      }
      if (auto c = (*t)["category"].value<std::string>()) ref.category = *c;
      if (auto d = (*t)["description"].value<std::string>()) ref.description = *d;
      EVK_RETURN_IF_ERROR(ApplyTolerance(*t, manifest_path, ref));
      if (const toml::node* o = t->get("overrides")) {
        const toml::table* ot = o->as_table();
        if (!ot)
          return InvalidTask(Where(manifest_path, o->source()) +
                             ": 'overrides' must be a table like { batch_size = 8 }");
        for (const auto& [name, val] : *ot) {
          EVK_ASSIGN_OR_RETURN(auto j, TomlToJson(val, Where(manifest_path, val.source())));
          ref.overrides[std::string(name.str())] = std::move(j);
        }
      }
    }
    suite.tasks.push_back(std::move(ref));
  }
  return suite;
}

Result<std::vector<Suite>> LoadSuites(const fs::path& tasks_dir) {
  std::error_code ec;
  if (!fs::is_directory(tasks_dir, ec))
    return NotFound("tasks directory not found: " + tasks_dir.string() +
                    " (set --tasks-dir or EVOKERNEL_TASKS_DIR)");
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(tasks_dir, ec))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<Suite> out;
  for (const auto& d : dirs) {
    bool has_py = false;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".py") has_py = true;
    if (!has_py) continue;
    EVK_ASSIGN_OR_RETURN(auto s, LoadSuite(d));
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Suite& a, const Suite& b) { return a.level < b.level; });
  return out;
}

Status ParseOverride(std::string_view assignment, nlohmann::json& overrides) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return InvalidArgument("override '" + std::string(assignment) +
                           "' must look like NAME=VALUE (e.g. batch_size=8)");
  // Overrides travel as JSON (to the oracle, into run records and --json output), and JSON
  // text is UTF-8: bytes that are not would make each of those throw later.
  try {
    (void)nlohmann::json(std::string(assignment)).dump();
  } catch (const nlohmann::json::exception&) {
    return InvalidArgument("override " +
                           nlohmann::json(std::string(assignment))
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                           " is not valid UTF-8 text");
  }
  std::string name(assignment.substr(0, eq));
  std::string value(assignment.substr(eq + 1));
  // Python tuples are written with parentheses; accept them as JSON arrays.
  std::string as_json = value;
  if (!as_json.empty() && as_json.front() == '(' && as_json.back() == ')')
    as_json = "[" + as_json.substr(1, as_json.size() - 2) + "]";
  if (as_json == "True") as_json = "true";
  if (as_json == "False") as_json = "false";
  try {
    overrides[name] = nlohmann::json::parse(as_json);
  } catch (const std::exception&) {
    overrides[name] = value;
  }
  return Status::Ok();
}

fs::path DefaultTasksDir() {
  if (const char* d = std::getenv("EVOKERNEL_TASKS_DIR"); d && *d) return d;
  return DataDir() / "tasks";
}

Result<TaskRef> ResolveTask(std::string_view id_or_path, const fs::path& tasks_dir,
                            const nlohmann::json& cli_overrides) {
  std::string id(id_or_path);
  TaskRef ref;
  std::error_code ec;
  bool found = false;
  if (id.size() > 3 && id.ends_with(".py")) {
    fs::path file = fs::absolute(id, ec);
    if (!fs::is_regular_file(file, ec)) return NotFound("task file not found: " + id);
    // A file inside a suite directory takes the suite's manifest entry.
    auto suite = LoadSuite(file.parent_path());
    if (!suite.ok()) return suite.status();
    for (auto& t : suite->tasks) {
      if (fs::equivalent(t.file, file, ec)) {
        ref = t;
        found = true;
      }
    }
    if (!fs::exists(file.parent_path() / "suite.toml")) {
      ref.id = file.string();
      ref.suite.clear();
    }
  } else {
    EVK_ASSIGN_OR_RETURN(auto suites, LoadSuites(tasks_dir));
    std::vector<const TaskRef*> matches;
    for (const auto& s : suites) {
      for (const auto& t : s.tasks) {
        if (t.id == id || t.file.stem() == id) matches.push_back(&t);
      }
    }
    if (matches.size() > 1) {
      std::string names;
      for (auto* m : matches) names += " " + m->id;
      return InvalidArgument("task '" + id + "' is ambiguous:" + names);
    }
    if (matches.empty())
      return NotFound("no task '" + id + "' in " + tasks_dir.string() +
                      " (see `evokernel tasks list`, or pass a path to a .py file)");
    ref = *matches[0];
    found = true;
  }
  if (!found) return NotFound("task file not found: " + id);
  for (const auto& [k, v] : cli_overrides.items()) ref.overrides[k] = v;
  return ref;
}

std::string_view ArgRoleName(ArgRole r) {
  switch (r) {
    case ArgRole::kInput: return "input";
    case ArgRole::kParam: return "param";
    case ArgRole::kOutput: return "output";
  }
  return "?";
}

size_t TaskSpec::num_inputs() const {
  return static_cast<size_t>(std::count_if(args.begin(), args.end(), [](const TaskArg& a) {
    return a.role != ArgRole::kOutput;
  }));
}

size_t TaskSpec::num_outputs() const { return args.size() - num_inputs(); }

double TaskSpec::CompulsoryBytes() const {
  double b = 0;
  for (const auto& a : args) b += static_cast<double>(NumElements(a.shape)) * DTypeSize(a.dtype);
  return b;
}

nlohmann::json TaskSpec::ToJson() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& x : args) {
    a.push_back({{"name", x.name},
                 {"role", std::string(ArgRoleName(x.role))},
                 {"dtype", std::string(DTypeName(x.dtype))},
                 {"shape", x.shape},
                 {"source", x.source}});
  }
  nlohmann::json j = ref.ToJson();
  j["args"] = a;
  j["scalar_args"] = scalar_args;
  j["constants"] = constants;
  j["init_inputs"] = init_inputs;
  j["modules"] = modules;
  j["calls"] = calls;
  j["aten_ops"] = aten_ops;
  j["flops"] = flops >= 0 ? nlohmann::json(flops) : nlohmann::json(nullptr);
  j["flops_by_op"] = flops_by_op;
  j["compulsory_bytes"] = CompulsoryBytes();
  j["doc"] = doc;
  return j;
}

}  // namespace evokernel
