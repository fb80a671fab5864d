// Internal to the memory library (and its tests): the PostgreSQL store. OpenPostgresStore exists
// only when libpq was found (EVOKERNEL_WITH_POSTGRES, src/CMakeLists.txt; open_store.cpp);
// RedactPostgresUrl always. Everything else opens banks with OpenStore.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/pg_url.h"
#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

// Opens (creating the schema when allowed) the bank in the PostgreSQL database `url`
// (postgres://[user[:password]@][host][:port][/dbname][?param=value&...] or postgresql://...;
// libpq fills what the URL leaves out from the PG* environment variables and ~/.pgpass).
// Errors: kUnavailable (cannot connect, or a schema written by a newer evokernel), kNotFound (no
// bank in the database and !create_if_missing or read_only), kIoError (a database holding
// evokernel-like tables but no bank, or a failed statement), kInvalidArgument (embedder
// mismatch). Errors and location() name the database by its URL without the password.
Result<std::unique_ptr<MemoryStore>> OpenPostgresStore(std::string_view url, const StoreOptions& options = {});

// `url` with any password removed (common/pg_url.h).
using pg::RedactPostgresUrl;

}  // namespace evokernel::memory
