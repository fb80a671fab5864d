#include "generator/prompt.h"

#include <fmt/format.h>

#include "common/fs.h"

namespace evokernel {
namespace fs = std::filesystem;

namespace {

int LineOf(const std::string& text, size_t pos) {
  int line = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

std::string Fenced(const std::string& code, std::string_view lang) {
  std::string s = "```" + std::string(lang) + "\n" + code;
  if (!s.empty() && s.back() != '\n') s.push_back('\n');
  return s + "```";
}

}  // namespace

Result<std::string> RenderTemplate(const std::string& text, const std::map<std::string, std::string>& values,
                                   const std::string& file) {
  std::string out;
  // Open sections: (name, start of the section in `out`, position in text for errors, keep).
  struct Open {
    std::string name;
    size_t out_pos;
    size_t text_pos;
  };
  std::vector<Open> open;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t b = text.find("{{", pos);
    if (b == std::string::npos) {
      out.append(text, pos, std::string::npos);
      break;
    }
    out.append(text, pos, b - pos);
    size_t e = text.find("}}", b + 2);
    if (e == std::string::npos)
      return InvalidArgument(fmt::format("{}:{}: '{{{{' without a closing '}}}}'", file, LineOf(text, b)));
    std::string tag = text.substr(b + 2, e - b - 2);
    pos = e + 2;
    char kind = tag.empty() ? 0 : tag[0];
    std::string name = (kind == '#' || kind == '/') ? tag.substr(1) : tag;
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      return InvalidArgument(fmt::format("{}:{}: malformed tag '{{{{{}}}}}'", file, LineOf(text, b), tag));
    auto v = values.find(name);
    if (v == values.end())
      return InvalidArgument(fmt::format("{}:{}: unknown value '{}' (known: {})", file, LineOf(text, b), name, [&] {
        std::string k;
        for (const auto& [key, _] : values) k += (k.empty() ? "" : ", ") + key;
        return k;
      }()));
    // A section tag alone on its line takes its line ending with it (as in Mustache), so
    // sections add no blank lines whether they render or not.
    const bool standalone = (kind == '#' || kind == '/') && (b == 0 || text[b - 1] == '\n') &&
                            (pos == text.size() || text[pos] == '\n');
    if (standalone && pos < text.size()) ++pos;
    if (kind == '#') {
      open.push_back({name, out.size(), b});
    } else if (kind == '/') {
      if (open.empty() || open.back().name != name)
        return InvalidArgument(fmt::format("{}:{}: '{{{{/{}}}}}' does not close the open section{}", file,
                                           LineOf(text, b), name,
                                           open.empty() ? "" : " '" + open.back().name + "'"));
      if (v->second.empty()) out.resize(open.back().out_pos);
      open.pop_back();
    } else {
      out += v->second;
    }
  }
  if (!open.empty())
    return InvalidArgument(fmt::format("{}:{}: section '{{{{#{}}}}}' is never closed", file,
                                       LineOf(text, open.back().text_pos), open.back().name));
  return out;
}

std::string FormatPromptItem(const PromptItem& it, int index, const std::string& code_fence) {
  std::string head = fmt::format("### [{}] {}: {}", index, it.kind, it.title.empty() ? it.id : it.title);
  std::string meta;
  if (!it.task_id.empty()) meta += "task " + it.task_id;
  if (!it.outcome.empty()) meta += (meta.empty() ? "" : ", ") + std::string("verifier: ") + it.outcome;
  if (it.latency_ms) meta += fmt::format("{}latency {:.4g} ms", meta.empty() ? "" : ", ", *it.latency_ms);
  std::string body = it.kind == "trace" ? Fenced(it.content, code_fence) : it.content;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  return head + (meta.empty() ? "" : "\n(" + meta + ")") + "\n" + body + "\n";
}

Result<RenderedPrompt> RenderPrompt(PromptStage stage, const PromptContext& ctx, const fs::path& dir_in) {
  fs::path dir = dir_in.empty() ? DataDir() / "prompts" / ctx.backend : dir_in;
  auto load = [&](const char* name) -> Result<std::pair<std::string, std::string>> {
    fs::path p = dir / name;
    auto text = ReadFile(p);
    if (!text.ok())
      return NotFound("prompt template " + p.string() + " is missing (backend '" + ctx.backend +
                      "'): " + text.status().message());
    return std::make_pair(p.string(), *text);
  };
  EVK_ASSIGN_OR_RETURN(auto system_t, load("system.md"));
  EVK_ASSIGN_OR_RETURN(auto guide_t, load("guide.md"));
  EVK_ASSIGN_OR_RETURN(auto user_t, load(stage == PromptStage::kDraft ? "draft.md" : "refine.md"));

  std::string memory;
  for (size_t i = 0; i < ctx.items.size(); ++i) memory += (i ? "\n" : "") + FormatPromptItem(ctx.items[i], int(i) + 1, ctx.code_fence);
  while (!memory.empty() && memory.back() == '\n') memory.pop_back();
  auto ms = [](const std::optional<double>& v) { return v ? fmt::format("{:.4g}", *v) : std::string(); };
  std::map<std::string, std::string> values = {
      {"backend", ctx.backend},
      {"task_id", ctx.task_id},
      {"task_source", Fenced(ctx.task_source, "python")},
      {"contract", Fenced(ctx.contract, ctx.code_fence)},
      {"memory", memory},
      {"start_code", ctx.start_code.empty() ? "" : Fenced(ctx.start_code, ctx.code_fence)},
      {"start_ms", ms(ctx.start_ms)},
      {"baseline_ms", ms(ctx.baseline_ms)},
      {"feedback", ctx.feedback},
      {"iteration", std::to_string(ctx.iteration)},
      {"budget", std::to_string(ctx.budget)},
  };
  EVK_ASSIGN_OR_RETURN(std::string guide, RenderTemplate(guide_t.second, values, guide_t.first));
  values["backend_guide"] = guide;
  RenderedPrompt r;
  EVK_ASSIGN_OR_RETURN(r.system, RenderTemplate(system_t.second, values, system_t.first));
  EVK_ASSIGN_OR_RETURN(r.user, RenderTemplate(user_t.second, values, user_t.first));
  r.hash = Sha256Hex(r.system + "\n\x1e\n" + r.user);
  return r;
}

PromptItem ToPromptItem(const memory::MemoryItem& m) {
  PromptItem p;
  p.id = m.id;
  p.kind = std::string(memory::ItemKindName(m.kind));
  p.title = m.title;
  p.content = m.content;
  p.outcome = m.outcome;
  p.latency_ms = m.latency_ms;
  p.task_id = m.signature.task_id;
  return p;
}

}  // namespace evokernel
