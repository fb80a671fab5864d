// OpenStore: a bank's location (a path or a URL) to the store that serves it.
#include <cctype>
#include <string>

#include "memory/memory.h"

namespace evokernel::memory {

namespace {

// "sqlite" for "sqlite:...", "" when `url` does not start with a scheme (RFC 3986: a letter,
// then letters, digits, '+', '-' or '.', then ':').
std::string SchemeOf(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  if (!std::isalpha(static_cast<unsigned char>(url[0]))) return "";
  for (size_t i = 1; i < colon; ++i) {
    char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "";
  }
  std::string scheme(url.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme;
}

}  // namespace

Result<std::unique_ptr<MemoryStore>> OpenStore(std::string_view url, const StoreOptions& options) {
  if (url.empty()) return InvalidArgument("no memory bank given (a file path, sqlite:PATH or postgres://...)");
  const std::string scheme = SchemeOf(url);
  if (scheme == "sqlite") {
    std::string_view rest = url.substr(7);  // after "sqlite:"
    if (rest.substr(0, 2) == "//") rest.remove_prefix(2);  // sqlite://rel or sqlite:///abs
    if (rest.empty()) return InvalidArgument("memory bank URL '" + std::string(url) + "' names no file");
    return OpenSqliteStore(std::filesystem::path(std::string(rest)), options);
  }
  if (scheme == "postgres" || scheme == "postgresql")
    return Status(StatusCode::kUnavailable,
                  "memory bank " + scheme + "://...: the PostgreSQL store is not built yet (issue 17); use a "
                  "SQLite file for now");
  if (!scheme.empty() && url.substr(scheme.size(), 3) == "://")
    return InvalidArgument("memory bank URL with unknown scheme '" + scheme +
                           "://' (expected a file path, sqlite:PATH or postgres://...)");
  return OpenSqliteStore(std::filesystem::path(std::string(url)), options);
}

}  // namespace evokernel::memory
