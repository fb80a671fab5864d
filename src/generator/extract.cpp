#include "generator/extract.h"

#include <vector>

#include "common/strings.h"

namespace evokernel {
namespace {

struct Block {
  std::string code;
  bool closed = false;
};


// Splits the reply into lines and collects fenced blocks. A fence is a line whose trimmed text
// starts with ``` or ~~~; the block closes at the next line that is exactly the same fence
// characters (at least as many).
std::vector<Block> FencedBlocks(std::string_view reply) {
  std::vector<Block> blocks;
  std::string fence;  // non-empty while inside a block
  size_t pos = 0;
  while (pos <= reply.size()) {
    size_t nl = reply.find('\n', pos);
    std::string_view line = reply.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? reply.size() + 1 : nl + 1;
    std::string_view t = TrimView(line);
    if (fence.empty()) {
      if (t.size() >= 3 && (t.substr(0, 3) == "```" || t.substr(0, 3) == "~~~")) {
        char c = t[0];
        size_t n = 0;
        while (n < t.size() && t[n] == c) ++n;
        fence.assign(n, c);
        blocks.push_back({});
      }
      continue;
    }
    if (t.size() >= fence.size() && t.find_first_not_of(fence[0]) == std::string_view::npos) {
      blocks.back().closed = true;
      fence.clear();
      continue;
    }
    blocks.back().code.append(line).push_back('\n');
  }
  return blocks;
}

bool LooksLikeCodeStart(std::string_view t) {
  static constexpr std::string_view kStarts[] = {"#include", "#pragma", "#define", "extern", "template",
                                                  "namespace", "static",  "inline",  "typedef", "using",
                                                  "struct",   "//",      "/*",      "constexpr", "void ",
                                                  "__kernel", "kernel "};
  for (auto s : kStarts)
    if (t.substr(0, s.size()) == s) return true;
  return false;
}

}  // namespace

Extraction ExtractKernel(std::string_view reply, std::string_view entry, std::string_view finish_reason,
                         std::string_view hint_in) {
  const std::string hint = !hint_in.empty()
                               ? std::string(hint_in)
                               : "reply with the complete kernel source in one ```cpp fenced block that defines extern "
                                 "\"C\" " + std::string(entry) + " as declared in the contract header";
  auto EntryHint = [&](std::string_view) { return hint; };
  Extraction x;
  if (TrimView(reply).empty() || reply.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    x.failure = "empty_response";
    x.feedback = "the reply was empty; " + EntryHint(entry);
    return x;
  }
  std::vector<Block> blocks = FencedBlocks(reply);
  x.blocks = static_cast<int>(blocks.size());
  const bool cut = finish_reason == "length";
  if (!blocks.empty()) {
    const Block* best = nullptr;
    for (const auto& b : blocks)
      if (b.closed && b.code.find(entry) != std::string::npos) best = &b;
    const bool open_last = !blocks.back().closed;
    if (open_last && (cut || !best)) {
      x.failure = "truncated";
      x.feedback = std::string("the reply ended inside a code block") +
                   (cut ? " because it reached the token limit" : "") +
                   ", so the kernel is incomplete; write a shorter kernel (fewer comments, no alternatives) and "
                   "close the code block";
      return x;
    }
    if (!best) {
      x.failure = "no_entry_point";
      x.feedback = "none of the " + std::to_string(blocks.size()) + " code block(s) in the reply defines " +
                   std::string(entry) + "; " + EntryHint(entry);
      return x;
    }
    x.ok = true;
    x.code = best->code;
    return x;
  }
  // No fences: raw code, possibly after some prose.
  if (reply.find(entry) == std::string_view::npos) {
    x.failure = "no_code";
    x.feedback = "the reply contains no code; " + EntryHint(entry);
    return x;
  }
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t nl = reply.find('\n', pos);
    std::string_view line = reply.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (LooksLikeCodeStart(TrimView(line))) {
      x.ok = true;
      x.unfenced = true;
      x.code = std::string(reply.substr(pos));
      if (x.code.empty() || x.code.back() != '\n') x.code.push_back('\n');
      return x;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  x.failure = "no_code";
  x.feedback = "the reply mentions " + std::string(entry) + " but contains no recognisable source code; " +
               EntryHint(entry);
  return x;
}

}  // namespace evokernel
