// Database URLs: the scheme of a location, and a PostgreSQL URL safe to show (no password).
// Always built (no libpq needed), so a build without PostgreSQL can still name the URL it refuses.
#pragma once

#include <string>
#include <string_view>

namespace evokernel::pg {

// "sqlite" for "sqlite:...", "postgres" for "POSTGRES://..."; "" when `url` does not start with
// a scheme (RFC 3986: a letter, then letters, digits, '+', '-' or '.', then ':'). Lower case.
std::string UrlScheme(std::string_view url);

// True for the postgres:// and postgresql:// schemes.
inline bool IsPostgresUrl(std::string_view url) {
  const std::string s = UrlScheme(url);
  return s == "postgres" || s == "postgresql";
}

// `url` with any password removed: the user-info's ":password" and a "password=" query
// parameter ("postgres://u:pw@h/db?password=x&sslmode=require" -> "postgres://u@h/db?sslmode=require").
std::string RedactPostgresUrl(std::string_view url);

}  // namespace evokernel::pg
