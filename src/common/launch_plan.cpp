#include "common/launch_plan.h"

#include <algorithm>

namespace evokernel {

namespace {

constexpr PlanArg::Kind kKinds[] = {PlanArg::Kind::kTensor, PlanArg::Kind::kScratch, PlanArg::Kind::kLocal,
                                    PlanArg::Kind::kInt,    PlanArg::Kind::kLong,    PlanArg::Kind::kFloat};

}  // namespace

std::string_view PlanArgKindName(PlanArg::Kind k) {
  switch (k) {
    case PlanArg::Kind::kTensor: return "tensor";
    case PlanArg::Kind::kScratch: return "scratch";
    case PlanArg::Kind::kLocal: return "local";
    case PlanArg::Kind::kInt: return "int";
    case PlanArg::Kind::kLong: return "long";
    case PlanArg::Kind::kFloat: return "float";
  }
  return "?";
}

std::string LaunchPlan::VariantOption(int v) { return v == 0 ? "" : "-DEVOKERNEL_VARIANT=" + std::to_string(v); }

std::string LaunchPlan::VariantFile(int v) { return v == 0 ? "kernel.bin" : "kernel.v" + std::to_string(v) + ".bin"; }

std::vector<std::string> LaunchPlan::Kernels() const {
  std::vector<std::string> names;
  for (const auto& l : launches)
    if (std::find(names.begin(), names.end(), l.kernel) == names.end()) names.push_back(l.kernel);
  return names;
}

nlohmann::json LaunchPlan::ToJson() const {
  nlohmann::json ls = nlohmann::json::array();
  for (const auto& l : launches) {
    nlohmann::json args = nlohmann::json::array();
    for (const auto& a : l.args) {
      nlohmann::json j = {{"kind", PlanArgKindName(a.kind)}, {"text", a.text}};
      switch (a.kind) {
        case PlanArg::Kind::kTensor:
        case PlanArg::Kind::kScratch: j["index"] = a.index; break;
        case PlanArg::Kind::kLocal: j["bytes"] = a.bytes; break;
        case PlanArg::Kind::kInt:
        case PlanArg::Kind::kLong: j["value"] = a.i; break;
        case PlanArg::Kind::kFloat: j["value"] = a.f; break;
      }
      args.push_back(std::move(j));
    }
    ls.push_back({{"kernel", l.kernel}, {"line", l.line}, {"global", l.global}, {"local", l.local}, {"args", args},
                  {"variant", l.variant}});
  }
  nlohmann::json sc = nlohmann::json::array();
  for (const auto& s : scratch) sc.push_back({{"name", s.name}, {"bytes", s.bytes}});
  return {{"launches", ls}, {"scratch", sc},      {"options", options},
          {"platform", platform}, {"device", device}, {"variants", variants}};
}

Result<LaunchPlan> LaunchPlan::FromJson(const nlohmann::json& j) {
  try {
    LaunchPlan p;
    p.options = j.value("options", "");
    p.platform = j.value("platform", 0);
    p.device = j.value("device", 0);
    p.variants = j.value("variants", 1);
    if (p.variants < 1 || p.variants > 8) return InvalidArgument("launch plan: bad number of program variants");
    for (const auto& s : j.at("scratch")) p.scratch.push_back({s.at("name").get<std::string>(), s.at("bytes").get<uint64_t>()});
    for (const auto& lj : j.at("launches")) {
      PlanLaunch l;
      l.kernel = lj.at("kernel").get<std::string>();
      l.line = lj.value("line", 0);
      l.variant = lj.value("variant", 0);
      if (l.variant < 0 || l.variant >= p.variants)
        return InvalidArgument("launch plan: launch of '" + l.kernel + "' names a program variant that does not exist");
      l.global = lj.at("global").get<std::vector<uint64_t>>();
      l.local = lj.at("local").get<std::vector<uint64_t>>();
      if (l.global.empty() || l.global.size() > 3 || l.local.size() != l.global.size())
        return InvalidArgument("launch plan: launch of '" + l.kernel + "' needs 1 to 3 global and as many local sizes");
      for (size_t d = 0; d < l.global.size(); ++d)
        if (l.local[d] == 0 || l.global[d] == 0 || l.global[d] % l.local[d] != 0)
          return InvalidArgument("launch plan: launch of '" + l.kernel + "' has a global size that is not a positive "
                                 "multiple of its local size");
      for (const auto& aj : lj.at("args")) {
        PlanArg a;
        const std::string kind = aj.at("kind").get<std::string>();
        auto it = std::find_if(std::begin(kKinds), std::end(kKinds), [&](PlanArg::Kind k) { return PlanArgKindName(k) == kind; });
        if (it == std::end(kKinds)) return InvalidArgument("launch plan: unknown argument kind '" + kind + "'");
        a.kind = *it;
        a.text = aj.value("text", "");
        switch (a.kind) {
          case PlanArg::Kind::kTensor:
          case PlanArg::Kind::kScratch: a.index = aj.at("index").get<int>(); break;
          case PlanArg::Kind::kLocal: a.bytes = aj.at("bytes").get<uint64_t>(); break;
          case PlanArg::Kind::kInt:
          case PlanArg::Kind::kLong: a.i = aj.at("value").get<int64_t>(); break;
          case PlanArg::Kind::kFloat: a.f = aj.at("value").get<double>(); break;
        }
        if (a.kind == PlanArg::Kind::kScratch && (a.index < 0 || static_cast<size_t>(a.index) >= p.scratch.size()))
          return InvalidArgument("launch plan: scratch buffer index out of range");
        l.args.push_back(std::move(a));
      }
      p.launches.push_back(std::move(l));
    }
    if (p.launches.empty()) return InvalidArgument("launch plan: no launches");
    return p;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("launch plan: malformed JSON: ") + e.what());
  }
}

}  // namespace evokernel
