// A private PostgreSQL cluster for the memory tests (PostgreSQL bank, docs/memory.md).
//
// PgTestCluster::Get() starts one cluster per test binary on first use: initdb into a fresh
// temporary directory (trust authentication for the user "evokernel_test"), then pg_ctl start on
// a free port, listening on 127.0.0.1 only, with its unix socket in that directory and fsync off
// (the tests check semantics, not durability). The cluster is stopped and its directory removed
// when the binary exits normally. Each test gets a fresh database (CreateDatabase).
//
// PostgreSQL refuses to run as root: when the tests run as root, initdb and pg_ctl run as the
// "postgres" user through runuser (su where runuser is missing), in a directory chowned to it.
// When the server cannot run here (no libpq at build time, no initdb/pg_ctl, root without a
// postgres user or a way to become it, or a start that fails), Get() returns null and says why,
// and the PostgreSQL tests skip with that reason. A test binary killed before its cleanup leaves
// its server running; the next binary to start a cluster stops and removes it (owner.pid).
#pragma once

#include <string>

#ifdef EVOKERNEL_WITH_POSTGRES
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "common/fs.h"
#endif

namespace evokernel::memory::testing {

#ifdef EVOKERNEL_WITH_POSTGRES

class PgTestCluster {
 public:
  // The binary's cluster, started on the first call; null (with *why set) when it cannot run.
  static PgTestCluster* Get(std::string* why = nullptr) {
    static std::string reason;
    static std::unique_ptr<PgTestCluster> cluster = Start(&reason);
    if (!cluster && why) *why = reason;
    return cluster.get();
  }

  ~PgTestCluster() {
    Run(fmt::format("{} -D {} -m immediate -w stop", Quote(bin_ + "/pg_ctl"), Quote((dir_ / "data").string())));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // postgresql://evokernel_test@127.0.0.1:PORT/NAME
  std::string Url(const std::string& dbname) const {
    return fmt::format("postgresql://evokernel_test@127.0.0.1:{}/{}", port_, dbname);
  }

  // A new empty database with a name unique in this cluster; returns its name ("" on failure,
  // with a test failure recorded).
  std::string CreateDatabase() {
    static std::atomic<int> counter{0};
    std::string name = fmt::format("evk_test_{}", counter++);
    std::string err = Exec("postgres", "CREATE DATABASE " + name);
    if (!err.empty()) {
      ADD_FAILURE() << "CREATE DATABASE " << name << ": " << err;
      return "";
    }
    return name;
  }

  // Runs `sql` in database `dbname`; returns "" or the error. With `value`, the first column of
  // the first row (or "<null>" / "<no rows>").
  std::string Exec(const std::string& dbname, const std::string& sql, std::string* value = nullptr) const {
    PGconn* c = PQconnectdb(Url(dbname).c_str());
    std::string err;
    if (PQstatus(c) != CONNECTION_OK) {
      err = PQerrorMessage(c);
    } else {
      PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
      PGresult* r = PQexec(c, sql.c_str());
      ExecStatusType s = PQresultStatus(r);
      if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        err = PQresultErrorMessage(r);
      } else if (value) {
        *value = PQntuples(r) == 0 ? "<no rows>" : PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0);
      }
      PQclear(r);
    }
    PQfinish(c);
    return err;
  }

  // The first value `sql` returns in `dbname`, or "<error: ...>".
  std::string Value(const std::string& dbname, const std::string& sql) const {
    std::string v;
    std::string err = Exec(dbname, sql, &v);
    return err.empty() ? v : "<error: " + err + ">";
  }

 private:
  PgTestCluster(std::filesystem::path dir, std::string bin, std::string run_as, bool use_su)
      : dir_(std::move(dir)), bin_(std::move(bin)), run_as_(std::move(run_as)), use_su_(use_su) {}

  static std::string Quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  // Runs a server tool (as the postgres user when we are root), in the cluster directory.
  int Run(const std::string& command) const {
    std::string wrapped = run_as_.empty() ? command
                          : use_su_      ? "su " + run_as_ + " -s /bin/sh -c " + Quote(command)
                                         : "runuser -u " + run_as_ + " -- " + command;
    return std::system(("cd " + Quote(dir_.string()) + " && " + wrapped + " >>" + Quote((dir_ / "tools.log").string()) +
                        " 2>&1")
                           .c_str());
  }

  static std::string FindBinDir() {
    if (const char* env = std::getenv("EVOKERNEL_PG_BINDIR"); env && *env) return env;
    std::error_code ec;
    std::string best;
    int best_version = -1;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      int v = std::atoi(e.path().filename().c_str());
      if (v > best_version && std::filesystem::exists(e.path() / "bin" / "initdb", ec) &&
          std::filesystem::exists(e.path() / "bin" / "pg_ctl", ec)) {
        best_version = v;
        best = (e.path() / "bin").string();
      }
    }
    if (!best.empty()) return best;
    for (const char* d : {"/usr/local/pgsql/bin", "/usr/bin", "/usr/local/bin"})
      if (std::filesystem::exists(std::string(d) + "/initdb", ec) && std::filesystem::exists(std::string(d) + "/pg_ctl", ec))
        return d;
    return "";
  }

  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    close(fd);
    return port;
  }

  static std::string Tail(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 600 ? "..." + s.substr(s.size() - 600) : s;
  }

  // Stops and removes the clusters that test binaries killed before their cleanup left behind
  // (their owner.pid names a process that is gone); live binaries' clusters are left alone.
  static void SweepDeadClusters(const std::string& bin, const std::string& run_as, bool use_su) {
    std::error_code ec;
    const std::filesystem::path tmp = TempRoot();
    for (const auto& e : std::filesystem::directory_iterator(tmp, ec)) {
      if (e.path().filename().string().rfind("evokernel-pg-test-", 0) != 0) continue;
      std::ifstream in(e.path() / "owner.pid");
      pid_t pid = 0;
      if (!(in >> pid) || pid <= 0 || kill(pid, 0) == 0 || errno == EPERM) continue;
      PgTestCluster dead(e.path(), bin, run_as, use_su);  // its destructor stops it and removes it
    }
  }

  static std::unique_ptr<PgTestCluster> Start(std::string* why) {
    const std::string bin = FindBinDir();
    if (bin.empty()) {
      *why = "no PostgreSQL server tools (initdb, pg_ctl) found; install postgresql or set EVOKERNEL_PG_BINDIR";
      return nullptr;
    }
    std::string run_as;
    bool use_su = false;
    if (geteuid() == 0) {
      // The server refuses to run as root: run it as the postgres user.
      passwd* pw = getpwnam("postgres");
      if (!pw) {
        *why = "running as root and there is no 'postgres' user to run the test server as";
        return nullptr;
      }
      run_as = "postgres";
      use_su = std::system("command -v runuser >/dev/null 2>&1") != 0;
      if (use_su && std::system("command -v su >/dev/null 2>&1") != 0) {
        *why = "running as root without runuser or su, so the test server cannot run as the postgres user";
        return nullptr;
      }
    }
    SweepDeadClusters(bin, run_as, use_su);
    auto dir = MakeTempDir("evokernel-pg-test-");
    if (!dir.ok()) {
      *why = "cannot make a directory for the test server: " + dir.status().message();
      return nullptr;
    }
    if (!run_as.empty()) {
      passwd* pw = getpwnam(run_as.c_str());
      if (chown(dir->c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        *why = "cannot hand " + dir->string() + " to the postgres user";
        std::filesystem::remove_all(*dir);
        return nullptr;
      }
    }
    std::unique_ptr<PgTestCluster> c(new PgTestCluster(*dir, bin, run_as, use_su));
    std::ofstream(*dir / "owner.pid") << getpid() << "\n";
    const std::string data = (*dir / "data").string();
    if (c->Run(fmt::format("{} -D {} -U evokernel_test --auth=trust -N -E UTF8 --locale=C", Quote(bin + "/initdb"),
                           Quote(data))) != 0) {
      *why = "initdb failed: " + Tail(*dir / "tools.log");
      return nullptr;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      c->port_ = FreePort();
      std::string options = fmt::format(
          "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
          "-c full_page_writes=off -c max_connections=50",
          c->port_, dir->string());
      if (c->Run(fmt::format("{} -D {} -l {} -w -t 60 -o {} start", Quote(bin + "/pg_ctl"), Quote(data),
                             Quote((*dir / "server.log").string()), Quote(options))) == 0 &&
          c->Exec("postgres", "SELECT 1").empty())
        return c;
      c->Run(fmt::format("{} -D {} -m immediate -w stop", Quote(bin + "/pg_ctl"), Quote(data)));
    }
    *why = "the test server did not start: " + Tail(*dir / "server.log");
    return nullptr;
  }

  std::filesystem::path dir_;
  std::string bin_;
  std::string run_as_;  // "postgres" when we are root, else empty
  bool use_su_ = false;  // run as run_as_ through su (no runuser here)
  int port_ = 0;
};

#else  // !EVOKERNEL_WITH_POSTGRES

class PgTestCluster {
 public:
  static PgTestCluster* Get(std::string* why = nullptr) {
    if (why) *why = "evokernel was built without the PostgreSQL store (EVOKERNEL_WITH_POSTGRES off: no libpq-dev)";
    return nullptr;
  }
  std::string Url(const std::string&) const { return ""; }
  std::string CreateDatabase() { return ""; }
  std::string Exec(const std::string&, const std::string&, std::string* = nullptr) const { return "not built"; }
  std::string Value(const std::string&, const std::string&) const { return "<not built>"; }
};

#endif

}  // namespace evokernel::memory::testing
