#include "agent/run_record.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

fs::path DefaultRunsDir() {
  if (const char* d = std::getenv("EVOKERNEL_RUNS_DIR"); d && *d) return d;
  return fs::current_path() / "runs";
}

std::string NewRunId() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  return fmt::format("{}-{:04x}", buf, rd() & 0xffff);
}

std::string TaskDirName(const std::string& task_id) {
  std::string s;
  for (size_t i = 0; i < task_id.size(); ++i) {
    char c = task_id[i];
    if (c == '/') s += "__";
    else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') s += c;
    else s += '_';
  }
  return s.empty() ? "task" : s;
}

RunRecord::~RunRecord() {
  if (events_fd_ >= 0) close(events_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

Status RunRecord::Lock() {
  fs::path lock = dir_ / ".lock";
  lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return IoError("cannot open " + lock.string() + ": " + std::strerror(errno));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return InvalidArgument("run " + id_ + " (" + dir_.string() + ") is in use by another evokernel process");
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(lock_fd_, 0) == 0) (void)!write(lock_fd_, pid.data(), pid.size());
  events_fd_ = open((dir_ / "events.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (events_fd_ < 0) return IoError("cannot open " + (dir_ / "events.jsonl").string() + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<std::unique_ptr<RunRecord>> RunRecord::Create(const fs::path& runs_dir, const std::string& id,
                                                     const nlohmann::json& config) {
  std::unique_ptr<RunRecord> r(new RunRecord());
  r->id_ = id;
  r->dir_ = runs_dir / id;
  r->config_ = config;
  std::error_code ec;
  fs::create_directories(runs_dir, ec);
  if (ec) return IoError("cannot create runs directory " + runs_dir.string() + ": " + ec.message());
  if (!fs::create_directory(r->dir_, ec) || ec)
    return InvalidArgument("run directory " + r->dir_.string() + " already exists or cannot be created" +
                           (ec ? ": " + ec.message() : std::string()));
  EVK_RETURN_IF_ERROR(WriteFileAtomic(r->dir_ / "config.json", config.dump(2) + "\n"));
  EVK_RETURN_IF_ERROR(r->Lock());
  return r;
}

Result<std::unique_ptr<RunRecord>> RunRecord::Open(const fs::path& runs_dir, const std::string& run) {
  std::unique_ptr<RunRecord> r(new RunRecord());
  fs::path dir = fs::path(run);
  if (!fs::exists(dir / "config.json")) dir = runs_dir / run;
  if (!fs::exists(dir / "config.json"))
    return NotFound("no run '" + run + "': neither " + fs::path(run).string() + " nor " + (runs_dir / run).string() +
                    " holds a config.json (list runs with: ls " + runs_dir.string() + ")");
  r->dir_ = dir;
  r->id_ = dir.filename().string();
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(dir / "config.json"));
  try {
    r->config_ = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return InvalidArgument((dir / "config.json").string() + ": not valid JSON: " + e.what());
  }
  EVK_RETURN_IF_ERROR(r->Lock());
  EVK_ASSIGN_OR_RETURN(r->progress_, Replay(dir));
  r->live_ = r->progress_;
  return r;
}

void RunRecord::Fold(RunProgress& p, const nlohmann::json& e) {
  const std::string type = e.value("type", "");
  if (type == "run_started" || type == "resumed") {
    ++p.sessions;
    p.finished = false;
  } else if (type == "session_end") {
    p.wall_seconds += e.value("wall_seconds", 0.0);
  } else if (type == "run_finished") {
    p.finished = true;
  } else if (type == "task_done") {
    p.tasks[e.value("task", "")].done = true;
  } else if (type == "iteration") {
    TaskProgress& t = p.tasks[e.value("task", "")];
    t.iterations = std::max(t.iterations, e.value("iteration", 0));
    double in = e.value("input_tokens", 0.0), out = e.value("output_tokens", 0.0), cost = e.value("cost_usd", 0.0);
    t.input_tokens += in;
    t.output_tokens += out;
    t.cost_usd += cost;
    p.input_tokens += in;
    p.output_tokens += out;
    p.cost_usd += cost;
    t.last_feedback = e.value("feedback", "");
    if (e.value("feasible", false)) {
      std::optional<double> ms;
      if (e.contains("latency_ms") && e["latency_ms"].is_number()) ms = e["latency_ms"].get<double>();
      if (!t.feasible) {
        t.feasible = true;
        t.first_feasible_iteration = e.value("iteration", 0);
        t.first_feasible_ms = ms;
      }
      if (ms && (!t.best_ms || *ms < *t.best_ms)) {
        t.best_ms = ms;
        t.best_item = e.value("item_id", "");
      } else if (t.best_item.empty()) {
        t.best_item = e.value("item_id", "");
      }
    }
  }
}

Result<RunProgress> RunRecord::Replay(const fs::path& run_dir, std::vector<nlohmann::json>* events) {
  RunProgress p;
  fs::path file = run_dir / "events.jsonl";
  if (!fs::exists(file)) return p;
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  std::istringstream in(text);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      nlohmann::json e = nlohmann::json::parse(line);
      if (!e.is_object()) throw std::runtime_error("not an object");
      Fold(p, e);
      if (events) events->push_back(std::move(e));
    } catch (const std::exception&) {
      // Only a torn final line is expected (a crash mid-append); anything else is counted.
      ++p.ignored_lines;
    }
  }
  return p;
}

Status RunRecord::Append(nlohmann::json event) {
  if (!event.contains("time")) {
    auto now = std::chrono::system_clock::now();
    event["time"] = std::chrono::duration<double>(now.time_since_epoch()).count();
  }
  std::string line = event.dump() + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(events_fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot append to " + (dir_ / "events.jsonl").string() + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(events_fd_) != 0)
    return IoError("cannot sync " + (dir_ / "events.jsonl").string() + ": " + std::strerror(errno));
  Fold(live_, event);
  return Status::Ok();
}

TaskProgress RunRecord::TaskState(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.tasks.find(task_id);
  return it == live_.tasks.end() ? TaskProgress{} : it->second;
}

RunProgress RunRecord::Totals() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

Result<std::string> RunRecord::SaveAttempt(const std::string& task_id, int iteration, const std::string& source,
                                           std::string_view extension) {
  fs::path rel = fs::path("attempts") / TaskDirName(task_id) / fmt::format("{:03d}{}", iteration, extension);
  std::error_code ec;
  fs::create_directories((dir_ / rel).parent_path(), ec);
  if (ec) return IoError("cannot create " + (dir_ / rel).parent_path().string() + ": " + ec.message());
  EVK_RETURN_IF_ERROR(WriteFileAtomic(dir_ / rel, source));
  return rel.string();
}

fs::path RunRecord::BestKernelPath(const std::string& task_id, std::string_view extension) const {
  return dir_ / "best" / TaskDirName(task_id) / ("kernel" + std::string(extension));
}

Status RunRecord::SaveBest(const std::string& task_id, const std::string& source, const nlohmann::json& result,
                           std::string_view extension) {
  fs::path d = dir_ / "best" / TaskDirName(task_id);
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) return IoError("cannot create " + d.string() + ": " + ec.message());
  EVK_RETURN_IF_ERROR(WriteFileAtomic(BestKernelPath(task_id, extension), source));
  return WriteFileAtomic(d / "result.json", result.dump(2) + "\n");
}

}  // namespace evokernel
