// OpenStore: a bank's location (a path or a URL) to the store that serves it.
#include <string>

#include "common/pg_url.h"
#include "memory/memory.h"
#include "memory/postgres_store.h"

namespace evokernel::memory {

Result<std::unique_ptr<MemoryStore>> OpenStore(std::string_view url, const StoreOptions& options) {
  if (url.empty()) return InvalidArgument("no memory bank given (a file path, sqlite:PATH or postgres://...)");
  const std::string scheme = pg::UrlScheme(url);
  if (scheme == "sqlite") {
    std::string_view rest = url.substr(7);  // after "sqlite:"
    if (rest.substr(0, 2) == "//") rest.remove_prefix(2);  // sqlite://rel or sqlite:///abs
    if (rest.empty()) return InvalidArgument("memory bank URL '" + std::string(url) + "' names no file");
    return OpenSqliteStore(std::filesystem::path(std::string(rest)), options);
  }
  if (scheme == "postgres" || scheme == "postgresql") {
#ifdef EVOKERNEL_WITH_POSTGRES
    return OpenPostgresStore(url, options);
#else
    return Status(StatusCode::kUnavailable,
                  "memory bank " + RedactPostgresUrl(url) + ": this evokernel was built without the PostgreSQL "
                  "store; install libpq-dev and rebuild with -DEVOKERNEL_WITH_POSTGRES=ON, or use a SQLite file");
#endif
  }
  if (!scheme.empty() && url.substr(scheme.size(), 3) == "://")
    return InvalidArgument("memory bank URL with unknown scheme '" + scheme +
                           "://' (expected a file path, sqlite:PATH or postgres://...)");
  return OpenSqliteStore(std::filesystem::path(std::string(url)), options);
}

}  // namespace evokernel::memory
