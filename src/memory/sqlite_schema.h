// Internal to the SQLite store (and its tests): the bank's schema and how it migrates.
//
// A bank records its schema version in meta(key = 'schema_version'); a file without a meta
// table is version 0 (empty). Opening a bank applies, in one transaction, every migration above
// its version, so a bank is either fully migrated or untouched. Migrations are only ever
// appended: version N's SQL never changes once released.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace evokernel::memory {

struct Migration {
  int version;              // 1, 2, 3, ... in order, no gaps
  const char* description;  // shown when the migration fails
  const char* sql;          // one or more statements
};

// The bank's migrations, oldest first.
const std::vector<Migration>& BankMigrations();
// The version a bank has after BankMigrations().
int CurrentSchemaVersion();

// The schema version recorded in `db` (0 when it has no meta table). `where` names the file in
// errors.
Result<int> ReadSchemaVersion(sqlite3* db, const std::string& where);

// Applies the migrations whose version is above `from_version`, then records the last version.
// Must run inside a write transaction owned by the caller (so a failure can roll everything
// back). Errors name the file, the migration's version and description, and SQLite's message.
Status ApplyMigrations(sqlite3* db, int from_version, const std::vector<Migration>& migrations,
                       const std::string& where);

}  // namespace evokernel::memory
