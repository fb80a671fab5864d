// UrlScheme and RedactPostgresUrl (pg_url.h).
#include "common/pg_url.h"

#include <cctype>

namespace evokernel::pg {

std::string UrlScheme(std::string_view url) {
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

std::string RedactPostgresUrl(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) return std::string(url);
  start += 3;
  std::string out(url.substr(0, start));
  std::string_view rest = url.substr(start);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    out += user.substr(0, user.find(':'));
    out += authority.substr(at);
  } else {
    out += authority;
  }
  size_t q = rest.find('?');
  out += rest.substr(0, q);
  if (q == std::string_view::npos) return out;
  std::string_view query = rest.substr(q + 1);
  std::string fragment;
  if (size_t hash = query.find('#'); hash != std::string_view::npos) {
    fragment = std::string(query.substr(hash));
    query = query.substr(0, hash);
  }
  std::string kept;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::string key(param.substr(0, param.find('=')));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "password" || param.empty()) continue;
    if (!kept.empty()) kept += '&';
    kept += param;
  }
  if (!kept.empty()) out += "?" + kept;
  return out + fragment;
}

}  // namespace evokernel::pg
