// libpq plumbing shared by the PostgreSQL stores (the memory bank, src/memory/postgres_store.cpp,
// and the evaluation queue, src/queue/postgres_queue.cpp). Built only when libpq is found
// (EVOKERNEL_WITH_POSTGRES; target evokernel_pg in src/CMakeLists.txt).
//
// - Connection: one libpq session to one database, named in every error by its URL without the
//   password ("memory bank postgresql://u@h/db: insert item m-1: ..."). Every statement gets its
//   parameters typed in the SQL (Params). Errors are data: kUnavailable when the connection is
//   gone (the next call reconnects, see EnsureConnected), kTimeout for a lock wait past
//   lock_timeout or a cancelled statement, kIoError with the server's message and SQLSTATE
//   otherwise.
// - RunTxn: BEGIN, the body, COMMIT; ROLLBACK when the body fails. A failure before COMMIT keeps
//   nothing (the server rolls back a transaction whose session ends); a connection lost during
//   COMMIT leaves the outcome unknown and the error says so.
//
// Not thread-safe: one Connection per thread (libpq connections are not shared).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace evokernel::pg {

// The SQLSTATE of a failed result ("" when none).
std::string_view SqlState(const PGresult* r);

// A libpq / server message on one line: newlines and tabs become single spaces.
std::string OneLine(const char* msg);

// bytea in hex output format ("\x0a1b..."; the session sets bytea_output = hex).
bool DecodeBytea(std::string_view t, std::string& out);

// Owns one PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* r = nullptr) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  PgResult& operator=(PgResult&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult() {
    if (r_) PQclear(r_);
  }

  int rows() const { return PQntuples(r_); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_, row, col); }
  std::string_view View(int row, int col) const {
    return std::string_view(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  std::string Text(int row, int col) const { return std::string(View(row, col)); }
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

 private:
  PGresult* r_;
};

// Query parameters, sent as text (bytea: binary). Each Add returns its typed placeholder
// ("$3::bigint"), so the SQL states every parameter's type and PostgreSQL infers none.
class Params {
 public:
  std::string Text(std::string_view v) { return Push(std::string(v), false, "text"); }
  std::string Int(int64_t v) { return Push(std::to_string(v), false, "bigint"); }
  // The shortest text that reads back as exactly `v`.
  std::string Real(double v);
  std::string Bytes(std::string_view v) { return Push(std::string(v), true, "bytea"); }
  std::string Null(const char* type) {
    std::string p = Push("", false, type);
    nulls_.back() = true;
    return p;
  }
  std::string IntArray(const std::vector<int64_t>& v);
  std::string TextArray(const std::vector<std::string>& v);

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  const std::vector<int>& Formats() const { return formats_; }

 private:
  std::string Push(std::string v, bool binary, const char* type);
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

struct ConnectionOptions {
  // What the database is to the user, before its URL in every message ("memory bank").
  std::string noun = "database";
  // Run after the common session settings on every (re)connection ("SET lock_timeout = ..."),
  // or empty.
  std::string session_sql;
  // Appended to kTimeout errors: why a wait ran out and what to do.
  std::string timeout_hint = "another session held a lock for longer than lock_timeout";
};

class Connection {
 public:
  // Connects to `url` (postgres://... or postgresql://...; libpq fills what the URL leaves out
  // from the PG* environment variables and ~/.pgpass; connect_timeout defaults to 10 s) and sets
  // up the session. kUnavailable naming the redacted URL when it cannot.
  static Result<std::unique_ptr<Connection>> Open(std::string_view url, ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "<noun> <url without password>", the prefix of every message.
  const std::string& where() const { return where_; }
  // The URL without its password.
  const std::string& url() const { return url_; }

  // Runs one statement. Statements without parameters go through the simple protocol (several
  // may be given at once, as schema migrations are). `what` names the step in errors.
  Result<PgResult> Exec(const std::string& sql, const Params& p, std::string_view what);
  Result<PgResult> Exec(const std::string& sql, std::string_view what) { return Exec(sql, Params(), what); }

  // The error of a failed statement (see the top); records its SQLSTATE in last_sqlstate().
  Status Error(const PGresult* r, std::string_view what);

  // Reconnects (and sets up the session again) when the connection was lost.
  Status EnsureConnected(std::string_view what);

  // ROLLBACK, when connected; its outcome is ignored.
  void Rollback();

  // BEGIN (`begin`, e.g. "BEGIN ISOLATION LEVEL READ COMMITTED"), body(), COMMIT; ROLLBACK and
  // body's error when it fails. Reconnects first when the connection was lost.
  template <typename F>
  Status RunTxn(const char* begin, std::string_view what, F&& body) {
    EVK_RETURN_IF_ERROR(EnsureConnected(what));
    {
      EVK_ASSIGN_OR_RETURN(PgResult b, Exec(begin, std::string(what) + ": begin"));
      (void)b;
    }
    Status st = body();
    if (!st.ok()) {
      Rollback();
      return st;
    }
    return Commit(what);
  }

  // The SQLSTATE of the last failed statement ("" when none since clear_sqlstate()).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  void clear_sqlstate() { last_sqlstate_.clear(); }

 private:
  Connection(PGconn* conn, std::string url, ConnectionOptions options);
  Status SetUpSession();
  Status Commit(std::string_view what);

  PGconn* conn_;
  std::string url_;
  ConnectionOptions opt_;
  std::string where_;
  std::string last_sqlstate_;
  bool in_commit_ = false;
};

}  // namespace evokernel::pg
