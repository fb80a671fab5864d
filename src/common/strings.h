// Small string helpers shared across the code base.
#pragma once

#include <string>
#include <string_view>

namespace evokernel {

// `s` without leading and trailing whitespace (space, tab, CR, LF, VT, FF); a view into `s`.
inline std::string_view TrimView(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

inline std::string Trim(std::string_view s) { return std::string(TrimView(s)); }

}  // namespace evokernel
