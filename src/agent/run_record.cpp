#include "agent/run_record.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
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

Status RunRecord::RepairTail(bool torn) {
  const fs::path file = dir_ / "events.jsonl";
  if (!fs::exists(file)) return Status::Ok();
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  if (text.empty() || text.back() == '\n') return Status::Ok();
  if (torn) {
    const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (truncate(file.c_str(), static_cast<off_t>(keep)) != 0)
      return IoError("cannot repair the torn last line of " + file.string() + ": " + std::strerror(errno));
    return Status::Ok();
  }
  // A crash between an event and its newline: the event is whole; end its line.
  const int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  const bool ok = fd >= 0 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) close(fd);
  if (!ok) return IoError("cannot end the last line of " + file.string() + ": " + std::strerror(err));
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
  // Repair a torn final line (a crash mid-append): cut the file after its last complete line,
  // or end a whole last event's line, so the next event starts on a line of its own.
  EVK_RETURN_IF_ERROR(r->RepairTail(r->progress_.ignored_lines > 0));
  return r;
}

namespace {

// The first field of an event that replaying would read with the wrong type ("field 'iteration':
// expected an integer, got string"), or "" when the event reads cleanly. Fold reads these with
// json::value(), which throws on a mistyped member.
std::string BadField(const nlohmann::json& e) {
  auto got = [&](const char* key, const char* expected) {
    return fmt::format("field '{}': expected {}, got {}", key, expected, e[key].type_name());
  };
  if (e.contains("type") && !e["type"].is_string()) return got("type", "a string");
  const std::string type = e.value("type", "");
  // Only the fields Fold reads for this type of event (others, such as an iteration's
  // "error": null, are the writers' business).
  std::vector<const char*> strings, numbers;
  if (type == "task_error") strings = {"task", "error"};
  if (type == "task_done") strings = {"task"};
  if (type == "session_end") numbers = {"wall_seconds"};
  if (type == "iteration") {
    strings = {"task", "feedback", "item_id"};
    numbers = {"input_tokens", "output_tokens", "cost_usd"};
    if (e.contains("feasible") && !e["feasible"].is_boolean()) return got("feasible", "true or false");
    if (e.contains("iteration")) {
      const auto& v = e["iteration"];
      if (!v.is_number_integer()) return got("iteration", "an integer");
      if (v.is_number_unsigned() ? v.get<uint64_t>() > 1000000000u
                                 : (v.get<int64_t>() < 0 || v.get<int64_t>() > 1000000000))
        return fmt::format("field 'iteration': {} is outside [0, 1000000000]", v.dump());
    }
  }
  for (const char* key : strings)
    if (e.contains(key) && !e[key].is_string()) return got(key, "a string");
  for (const char* key : numbers)
    if (e.contains(key) && !e[key].is_number()) return got(key, "a number");
  return "";
}

}  // namespace

void RunRecord::Fold(RunProgress& p, const nlohmann::json& e) {
  const std::string type = e.value("type", "");
  if (type == "run_started" || type == "resumed") {
    ++p.sessions;
    p.finished = false;
  } else if (type == "session_end") {
    p.wall_seconds += e.value("wall_seconds", 0.0);
  } else if (type == "run_finished") {
    p.finished = true;
  } else if (type == "task_error") {
    p.task_errors[e.value("task", "")] = e.value("error", "");
  } else if (type == "task_done") {
    p.tasks[e.value("task", "")].done = true;
  } else if (type == "iteration") {
    p.task_errors.erase(e.value("task", ""));  // it loaded after all (its file was fixed)
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
  const std::string run_id = run_dir.filename().string();
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  int last = static_cast<int>(lines.size()) - 1;
  while (last >= 0 && lines[static_cast<size_t>(last)].find_first_not_of(" \t\r") == std::string::npos) --last;
  // Only an unterminated last line can be torn (every event is written with its newline); a
  // complete line that does not parse is damage wherever it is.
  const bool unterminated_tail =
      !text.empty() && text.back() != '\n' && last == static_cast<int>(lines.size()) - 1;
  for (int i = 0; i <= last; ++i) {
    const std::string& line = lines[static_cast<size_t>(i)];
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json e;
    try {
      e = nlohmann::json::parse(line);
      if (!e.is_object()) throw std::runtime_error("not a JSON object");
    } catch (const std::exception& ex) {
      // Only the final line may be torn (a crash mid-append); damage before it means the file
      // was edited or broken, and replaying around it would resume from a wrong state.
      if (i == last && unterminated_tail) {
        ++p.ignored_lines;
        continue;
      }
      return InvalidArgument(fmt::format("{}:{}: not an event ({}); the run's record is damaged, so it cannot be "
                                         "resumed or reported (restore the file, or start a new run)",
                                         file.string(), i + 1, ex.what()));
    }
    if (std::string bad = BadField(e); !bad.empty())
      return InvalidArgument(fmt::format("{}:{}: {}; the run's record is damaged, so it cannot be resumed or reported "
                                         "(restore the file, or start a new run)",
                                         file.string(), i + 1, bad));
    const std::string type = e.value("type", "");
    if ((type == "run_started" || type == "resumed") && e.contains("run") && e["run"].is_string() &&
        e["run"].get<std::string>() != run_id)
      return InvalidArgument(fmt::format("{}:{}: these events belong to run '{}', not to '{}' (was the file copied "
                                         "from another run?)",
                                         file.string(), i + 1, e["run"].get<std::string>(), run_id));
    Fold(p, e);
    if (events) events->push_back(std::move(e));
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
  EVK_RETURN_IF_ERROR(WriteFileAtomic(BestKernelPath(task_id, extension), source, /*durable=*/true));
  return WriteFileAtomic(d / "result.json", result.dump(2) + "\n", /*durable=*/true);
}

Status RunRecord::SavePending(const std::string& task_id, const nlohmann::json& step) {
  return WriteFileAtomic(dir_ / "pending" / (TaskDirName(task_id) + ".json"),
                         step.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                         /*durable=*/true);
}

Result<std::vector<nlohmann::json>> RunRecord::LoadPending() const {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_ / "pending", ec))
    if (f.path().extension() == ".json") files.push_back(f.path());  // skips *.json.tmp.* leftovers
  std::sort(files.begin(), files.end());
  std::vector<nlohmann::json> out;
  for (const auto& f : files) {
    EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("event") || !j["event"].is_object() || !j.contains("task") ||
        !j["task"].is_string() || !j.contains("iteration") || !j["iteration"].is_number_integer())
      return InvalidArgument(f.string() +
                             ": not a pending iteration outcome (expected an object with task, iteration and "
                             "event); move it away to resume without it");
    out.push_back(std::move(j));
  }
  return out;
}

Status RunRecord::ClearPending(const std::string& task_id) {
  std::error_code ec;
  fs::remove(dir_ / "pending" / (TaskDirName(task_id) + ".json"), ec);
  if (ec) return IoError("cannot remove the pending outcome of " + task_id + ": " + ec.message());
  return Status::Ok();
}

}  // namespace evokernel
