#include "backend/build_pipeline.h"

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Bumped whenever what the pipeline does around the backends changes the verdicts it caches.
constexpr const char* kPipelineVersion = "pipeline:v1";

// Reads a published build record; nullopt when absent or damaged (it is then rebuilt).
std::optional<BuildResult> ReadRecord(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "build.json", ec)) return std::nullopt;
  auto j = ReadFile(dir / "build.json");
  if (!j.ok()) return std::nullopt;
  try {
    auto rec = nlohmann::json::parse(*j);
    BuildResult r;
    r.ok = rec.at("ok").get<bool>();
    r.check_failed = rec.value("check_failed", false);
    for (const auto& f : rec.value("check", nlohmann::json::array()))
      r.check.findings.push_back({f.value("rule", ""), f.value("symbol", ""), f.value("line", 0),
                                  f.value("excerpt", ""), f.value("message", "")});
    r.command = rec.value("command", "");
    r.feedback = rec.value("feedback", "");
    r.log = rec.value("log", "");
    r.hash = rec.value("hash", "");
    std::string artifact = rec.value("artifact", "");
    if (r.ok) {
      if (artifact.empty() || artifact.find('/') != std::string::npos || !fs::exists(dir / artifact, ec))
        return std::nullopt;
      r.artifact = dir / artifact;
    }
    r.cached = true;
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::map<std::string, std::string> ToolEnvironment(const fs::path& build_dir) {
  return {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
          {"LC_ALL", "C"},
          {"HOME", build_dir.string()},
          {"TMPDIR", build_dir.string()}};
}

Result<CommandResult> RunTool(std::vector<std::string> argv, const fs::path& dir, std::chrono::milliseconds timeout,
                              const ResourceLimits& limits, size_t max_output) {
  SpawnOptions so;
  so.argv = std::move(argv);
  so.cwd = dir.string();
  so.env = ToolEnvironment(dir);
  so.limits = limits;
  return RunCommand(std::move(so), timeout, "", max_output);
}

Result<BuildResult> Build(const Backend& backend, const TaskSpec& spec, std::string_view source,
                          const BuildOptions& options) {
  EVK_ASSIGN_OR_RETURN(std::string key, backend.BuildKey());
  const std::string contract = backend.Contract(spec);
  BuildResult r;
  r.hash = Sha256Hex(std::string(backend.name()) + "\n" + key + "\n" + kPipelineVersion + "\n" +
                     (options.static_check ? "check\n" : "nocheck\n") + contract + "\n" + std::string(source));
  const fs::path root = options.cache_dir.empty() ? CacheDir() / "builds" : options.cache_dir;
  const fs::path final_dir = root / r.hash;
  if (options.use_cache) {
    if (auto cached = ReadRecord(final_dir)) {
      cached->hash = r.hash;
      return *cached;
    }
  }

  std::error_code ec;
  fs::create_directories(root / "tmp", ec);
  if (ec) return IoError("cannot create build cache " + (root / "tmp").string() + ": " + ec.message());
  EVK_ASSIGN_OR_RETURN(fs::path dir, MakeOwnedTempDir(kBuildDirPrefix, root / "tmp"));
  ScopedDir cleanup(dir);
  EVK_RETURN_IF_ERROR(backend.Stage(spec, source, dir));

  std::string artifact_name;
  auto publish = [&](BuildResult& res) -> Result<BuildResult> {
    nlohmann::json rec = {{"ok", res.ok},         {"check_failed", res.check_failed},
                          {"check", res.check.ToJson()}, {"command", res.command},
                          {"feedback", res.feedback}, {"log", res.log},
                          {"seconds", res.seconds}, {"backend", backend.name()},
                          {"toolchain", backend.Toolchain()}, {"hash", res.hash},
                          {"artifact", artifact_name}, {"task", spec.ref.id},
                          {"static_check", options.static_check}};
    EVK_RETURN_IF_ERROR(WriteFileAtomic(dir / "build.json", rec.dump(2)));
    // Publish atomically; if another process won the race, its identical result is used.
    fs::rename(dir, final_dir, ec);
    if (ec && !fs::exists(final_dir / "build.json"))
      return IoError("cannot publish build into " + final_dir.string() + ": " + ec.message());
    if (res.ok) res.artifact = final_dir / artifact_name;
    return res;
  };

  if (options.static_check) {
    EVK_RETURN_IF_ERROR(backend.CheckSource(spec, source, dir, r.check));
    if (!r.check.ok()) {
      r.check_failed = true;
      r.feedback = r.check.Feedback(backend.language().kernel_file);
      return publish(r);
    }
  }

  auto start = Clock::now();
  EVK_ASSIGN_OR_RETURN(CompileOutput c, backend.Compile(spec, dir, options));
  r.seconds = c.seconds > 0 ? c.seconds : std::chrono::duration<double>(Clock::now() - start).count();
  r.command = c.command;
  r.log = c.log;
  r.feedback = c.feedback;
  r.ok = c.ok && !c.artifact.empty() && c.artifact.find('/') == std::string::npos && fs::exists(dir / c.artifact, ec);
  if (c.ok && !r.ok && r.feedback.empty()) r.feedback = "the compiler reported success but produced no artifact";
  if (c.timed_out) return r;  // not cached: may be load-dependent
  if (r.ok) artifact_name = c.artifact;
  if (r.ok && options.static_check) {
    EVK_RETURN_IF_ERROR(backend.CheckArtifact(dir, c, r.check));
    if (!r.check.ok()) {
      r.ok = false;
      r.check_failed = true;
      r.feedback = r.check.Feedback(backend.language().kernel_file);
      artifact_name.clear();
    }
  }
  return publish(r);
}

std::vector<std::string> RunnerCommand(const Backend& backend, const BuildResult& build, int threads) {
  return {RunnerPath().string(), "--device", std::string(backend.device()), "--artifact", build.artifact.string(),
          "--threads", std::to_string(threads)};
}

}  // namespace evokernel
