// The libpq plumbing of pg_conn.h.
#include "common/pg_conn.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/pg_url.h"

namespace evokernel::pg {

std::string_view SqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? std::string_view(s) : std::string_view();
}

std::string OneLine(const char* msg) {
  std::string s;
  for (const char* p = msg ? msg : ""; *p; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
    if (!space) s += *p;
    else if (!s.empty() && s.back() != ' ') s += ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "no message" : s;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool DecodeBytea(std::string_view t, std::string& out) {
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x' || t.size() % 2) return false;
  out.resize((t.size() - 2) / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexDigit(t[2 + 2 * i]), lo = HexDigit(t[3 + 2 * i]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return true;
}

// ------------------------------------------------------------------------------- PgResult

int64_t PgResult::Int(int row, int col) const {
  std::string_view v = View(row, col);
  int64_t x = 0;
  std::from_chars(v.data(), v.data() + v.size(), x);
  return x;
}

double PgResult::Double(int row, int col) const {
  std::string_view v = View(row, col);
  double x = 0;
  std::from_chars(v.data(), v.data() + v.size(), x);
  return x;
}

int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

// ------------------------------------------------------------------------------- Params

std::string Params::Real(double v) { return Push(fmt::format("{}", v), false, "float8"); }

std::string Params::IntArray(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return Push(s + "}", false, "bigint[]");
}

std::string Params::TextArray(const std::vector<std::string>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    s += i ? ",\"" : "\"";
    for (char c : v[i]) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  return Push(s + "}", false, "text[]");
}

std::vector<const char*> Params::Values() const {
  std::vector<const char*> out;
  for (size_t i = 0; i < values_.size(); ++i) out.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  return out;
}

std::vector<int> Params::Lengths() const {
  std::vector<int> out;
  for (const auto& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

std::string Params::Push(std::string v, bool binary, const char* type) {
  values_.push_back(std::move(v));
  nulls_.push_back(false);
  formats_.push_back(binary ? 1 : 0);
  return fmt::format("${}::{}", values_.size(), type);
}

// ------------------------------------------------------------------------------- Connection

Connection::Connection(PGconn* conn, std::string url, ConnectionOptions options)
    : conn_(conn), url_(std::move(url)), opt_(std::move(options)), where_(opt_.noun + " " + url_) {}

Connection::~Connection() { PQfinish(conn_); }

Result<std::unique_ptr<Connection>> Connection::Open(std::string_view url, ConnectionOptions options) {
  const std::string shown = RedactPostgresUrl(url);
  const std::string where = options.noun + " " + shown;
  // The URL is expanded in place of `dbname`; the defaults before it yield to what it says
  // (connect_timeout), and libpq takes what it leaves out from PG* variables and ~/.pgpass.
  const std::string url_copy(url);
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"10", "evokernel", url_copy.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn) return Unavailable("cannot connect to " + where + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("cannot connect to " + where + ": " + msg +
                       " (credentials come from the URL, the PG* environment variables or ~/.pgpass)");
  }
  std::unique_ptr<Connection> c(new Connection(conn, shown, std::move(options)));
  EVK_RETURN_IF_ERROR(c->SetUpSession());
  return c;
}

Status Connection::Error(const PGresult* r, std::string_view what) {
  last_sqlstate_ = std::string(SqlState(r));
  std::string msg = OneLine(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (msg == "no message") msg = OneLine(PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK)
    return Unavailable(fmt::format("{}: {}: lost the connection to the PostgreSQL server ({}); {}", where_, what, msg,
                                   in_commit_ ? "the transaction may or may not have been committed"
                                              : "nothing of this call was kept; the next call reconnects"));
  std::string detail = fmt::format("{}: {}: {}{}", where_, what, msg,
                                   last_sqlstate_.empty() ? "" : " (SQLSTATE " + last_sqlstate_ + ")");
  if (last_sqlstate_ == "55P03" || last_sqlstate_ == "57014") return TimeoutError(detail + "; " + opt_.timeout_hint);
  if (last_sqlstate_ == "53100") return IoError(detail + " (disk full)");
  return IoError(detail);
}

Result<PgResult> Connection::Exec(const std::string& sql, const Params& p, std::string_view what) {
  PGresult* raw;
  if (p.size() == 0) {
    raw = PQexec(conn_, sql.c_str());
  } else {
    auto values = p.Values();
    auto lengths = p.Lengths();
    raw = PQexecParams(conn_, sql.c_str(), p.size(), nullptr, values.data(), lengths.data(), p.Formats().data(), 0);
  }
  PgResult r(raw);
  ExecStatusType s = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Error(raw, what);
  return r;
}

Status Connection::SetUpSession() {
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  std::string sql =
      "SET client_encoding = 'UTF8'; SET extra_float_digits = 3; SET bytea_output = 'hex'; "
      "SET client_min_messages = warning";
  if (!opt_.session_sql.empty()) sql += "; " + opt_.session_sql;
  EVK_ASSIGN_OR_RETURN(PgResult r, Exec(sql, "set up the session"));
  (void)r;
  return Status::Ok();
}

Status Connection::EnsureConnected(std::string_view what) {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    return Unavailable(fmt::format("{}: {}: cannot reconnect to the PostgreSQL server: {}", where_, what,
                                   OneLine(PQerrorMessage(conn_))));
  return SetUpSession();
}

void Connection::Rollback() {
  if (PQstatus(conn_) != CONNECTION_OK) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

Status Connection::Commit(std::string_view what) {
  in_commit_ = true;
  PGresult* raw = PQexec(conn_, "COMMIT");
  PgResult r(raw);
  Status committed;
  if (!raw || PQresultStatus(raw) != PGRES_COMMAND_OK)
    committed = Error(raw, std::string(what) + ": commit");
  else if (std::strcmp(PQcmdStatus(raw), "COMMIT") != 0)
    committed = IoError(where_ + ": " + std::string(what) + ": the server rolled the transaction back");
  in_commit_ = false;
  return committed;
}

}  // namespace evokernel::pg
