// Internal: strict reading of JSON objects with errors that name the field. Not part of the
// memory interface.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace evokernel::memory {

// Reads the members of one JSON object, checking types; Finish() rejects members not read.
// Every error is kInvalidArgument "field 'PREFIX.KEY': what is wrong".
class FieldReader {
 public:
  FieldReader(const nlohmann::json& j, std::string prefix) : j_(j), prefix_(std::move(prefix)) {
    if (!j_.is_object())
      status_ = InvalidArgument((prefix_.empty() ? std::string("item") : "field '" + prefix_ + "'") +
                                ": expected a JSON object, got " + j_.type_name());
  }

  const Status& status() const { return status_; }

  Status Error(std::string_view key, std::string_view what) const {
    return InvalidArgument("field '" + Name(key) + "': " + std::string(what));
  }

  // Marks `key` as read and returns it, or null when absent.
  const nlohmann::json* Take(const char* key) {
    seen_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  Status String(const char* key, std::string& out, bool required = false) {
    const nlohmann::json* v = Take(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    if (!v->is_string()) return TypeError(key, "a string", *v);
    out = v->get<std::string>();
    return Status::Ok();
  }

  Status Number(const char* key, double& out, bool required = false) {
    const nlohmann::json* v = Take(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    if (!v->is_number()) return TypeError(key, "a number", *v);
    out = v->get<double>();
    if (!std::isfinite(out)) return Error(key, "must be finite");
    return Status::Ok();
  }

  Status OptionalNumber(const char* key, std::optional<double>& out) {
    const nlohmann::json* v = Take(key);
    if (!v || v->is_null()) return Status::Ok();
    if (!v->is_number()) return TypeError(key, "a number or null", *v);
    double d = v->get<double>();
    if (!std::isfinite(d)) return Error(key, "must be finite");
    out = d;
    return Status::Ok();
  }

  Status Int(const char* key, int64_t& out, int64_t min, int64_t max, bool required = false) {
    const nlohmann::json* v = Take(key);
    if (!v) return required ? Missing(key) : Status::Ok();
    return ReadInt(Name(key), *v, out, min, max);
  }

  Status StringList(const char* key, std::vector<std::string>& out) {
    const nlohmann::json* v = Take(key);
    if (!v) return Status::Ok();
    if (!v->is_array()) return TypeError(key, "an array of strings", *v);
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const auto& e = (*v)[i];
      if (!e.is_string())
        return InvalidArgument("field '" + Name(key) + "[" + std::to_string(i) +
                               "]': expected a string, got " + e.type_name());
      out.push_back(e.get<std::string>());
    }
    return Status::Ok();
  }

  Status Shapes(const char* key, std::vector<std::vector<int64_t>>& out) {
    const nlohmann::json* v = Take(key);
    if (!v) return Status::Ok();
    if (!v->is_array()) return TypeError(key, "an array of shapes", *v);
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const auto& shape = (*v)[i];
      std::string where = Name(key) + "[" + std::to_string(i) + "]";
      if (!shape.is_array())
        return InvalidArgument("field '" + where + "': expected an array of integers, got " +
                               shape.type_name());
      std::vector<int64_t> dims;
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t x = 0;
        EVK_RETURN_IF_ERROR(ReadInt(where + "[" + std::to_string(d) + "]", shape[d], x, 0,
                                    std::numeric_limits<int64_t>::max()));
        dims.push_back(x);
      }
      out.push_back(std::move(dims));
    }
    return Status::Ok();
  }

  // Fails on the first member that no reader took.
  Status Finish() const {
    if (!status_.ok()) return status_;
    for (const auto& [k, v] : j_.items())
      if (!seen_.count(k)) return InvalidArgument("unknown field '" + Name(k) + "'");
    return Status::Ok();
  }

 private:
  std::string Name(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }
  Status Missing(const char* key) const { return InvalidArgument("missing field '" + Name(key) + "'"); }
  Status TypeError(const char* key, const char* expected, const nlohmann::json& v) const {
    return Error(key, std::string("expected ") + expected + ", got " + v.type_name());
  }
  static Status ReadInt(const std::string& name, const nlohmann::json& v, int64_t& out, int64_t min,
                        int64_t max) {
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(max))
        return InvalidArgument("field '" + name + "': " + std::to_string(u) + " is above " + std::to_string(max));
      out = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      out = v.get<int64_t>();
    } else {
      return InvalidArgument("field '" + name + "': expected an integer, got " +
                             (v.is_number() ? std::string("a fraction") : std::string(v.type_name())));
    }
    if (out < min || out > max)
      return InvalidArgument("field '" + name + "': " + std::to_string(out) + " is outside [" +
                             std::to_string(min) + ", " + std::to_string(max) + "]");
    return Status::Ok();
  }

  const nlohmann::json& j_;
  std::string prefix_;
  Status status_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace evokernel::memory
