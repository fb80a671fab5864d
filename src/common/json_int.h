// Strict integer reads from JSON that people or crashes may have changed (a run's config.json,
// cached figures). nlohmann's get<int>() converts a float with static_cast, which is undefined
// behaviour when the value does not fit ("budget": 1e10), and silently wraps large integers.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace evokernel {

// obj.at(key) as a T: it must be a JSON integer within T's range. Throws like get<T>() does
// on a missing key or a wrong type (an std::exception that callers already catch): out_of_range
// for a missing key, std::invalid_argument naming the key otherwise.
template <typename T>
T JsonInt(const nlohmann::json& obj, const char* key) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  const nlohmann::json& v = obj.at(key);
  using L = std::numeric_limits<T>;
  bool fits = false;
  if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(L::max());
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if constexpr (std::is_signed_v<T>)
      fits = i >= static_cast<int64_t>(L::min()) && i <= static_cast<int64_t>(L::max());
    else
      fits = i >= 0 && static_cast<uint64_t>(i) <= static_cast<uint64_t>(L::max());
  }
  if (!fits)
    throw std::invalid_argument(std::string(key) + ": expected an integer in [" + std::to_string(L::min()) + ", " +
                                std::to_string(L::max()) + "], got " +
                                (v.is_number() ? v.dump() : std::string(v.type_name())));
  return v.get<T>();
}

}  // namespace evokernel
