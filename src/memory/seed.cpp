#include "memory/seed.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"
#include "common/fs.h"

namespace evokernel::memory {
namespace fs = std::filesystem;

namespace {


std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string_view::npos) comma = v.size();
    std::string item = Trim(v.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

// Like NormaliseOpName, but a bookkeeping name a note lists on purpose is kept (it simply never
// matches a task operator).
std::string NoteOpName(std::string_view raw) {
  std::string op = NormaliseOpName(raw);
  if (!op.empty()) return op;
  for (char c : raw)
    if (c != '_' && c != '.' && c != ' ' && c != '-') op += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return op;
}

}  // namespace

Result<MemoryItem> ParseNote(const fs::path& file, const fs::path& relative, std::string_view backend) {
  EVK_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  const std::string name = file.string();
  auto at = [&](size_t line, const std::string& what) {
    return InvalidArgument(fmt::format("{}:{}: {}", name, line, what));
  };
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(std::string_view(text).substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.empty() || Trim(lines[0]) != "---")
    return at(1, "a note must start with front matter: a '---' line, 'key: value' lines (title, kind, "
                 "stage, ops, categories) and a closing '---'");
  std::set<std::string> seen;
  MemoryItem m;
  m.kind = ItemKind::kKnowledge;
  m.stage = Stage::kAny;
  m.backend = std::string(backend);
  std::vector<std::string> categories;
  std::set<std::string> ops;
  size_t i = 1;
  bool closed = false;
  for (; i < lines.size(); ++i) {
    std::string line = Trim(lines[i]);
    const size_t lineno = i + 1;
    if (line == "---") {
      closed = true;
      break;
    }
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return at(lineno, "expected 'key: value' in the front matter, got '" + line + "'");
    std::string key = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    if (!seen.insert(key).second) return at(lineno, "'" + key + "' is given twice");
    if (key == "title") {
      m.title = value;
    } else if (key == "kind") {
      auto k = ParseItemKind(value);
      if (!k.ok() || (*k != ItemKind::kKnowledge && *k != ItemKind::kBestPractice))
        return at(lineno, "kind must be knowledge or best_practice, got '" + value + "'");
      m.kind = *k;
    } else if (key == "stage") {
      auto s = ParseStage(value);
      if (!s.ok()) return at(lineno, s.status().message());
      m.stage = *s;
    } else if (key == "ops") {
      for (const auto& op : SplitList(value)) ops.insert(NoteOpName(op));
    } else if (key == "categories") {
      categories = SplitList(value);
    } else {
      return at(lineno, "unknown front-matter key '" + key + "' (expected title, kind, stage, ops, categories)");
    }
  }
  if (!closed) return at(1, "the front matter opened here is never closed with a '---' line");
  if (m.title.empty()) return at(1, "the front matter has no title");
  std::string body;
  for (size_t b = i + 1; b < lines.size(); ++b) body += std::string(lines[b]) + "\n";
  body = Trim(body);
  if (body.empty()) return at(i + 1, "the note has no body after its front matter");
  m.content = body + "\n";
  m.signature.backend = m.backend;
  m.signature.ops.assign(ops.begin(), ops.end());
  std::string joined;
  for (size_t c = 0; c < categories.size(); ++c) joined += (c ? "," : "") + categories[c];
  m.signature.category = joined;
  m.signature.text = m.title;
  m.model = "curated";
  m.run_id = "seed";
  m.id = "seed-" + Sha256Hex(std::string(backend) + "\n" + relative.generic_string() + "\n" + text).substr(0, 16);
  return m;
}

fs::path DefaultKnowledgeDir(std::string_view backend) { return DataDir() / "knowledge" / std::string(backend); }

Result<SeedReport> SeedKnowledge(MemoryStore& store, std::string_view backend, const fs::path& dir) {
  if (backend.empty()) return InvalidArgument("seed: the backend name is empty");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFound("seed: no knowledge directory " + dir.string() + " for backend '" + std::string(backend) + "'");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".md" && it->path().filename() != "README.md")
      files.push_back(it->path());
  if (ec) return IoError("seed: cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  SeedReport report;
  std::vector<MemoryItem> notes;
  for (const auto& f : files) {
    EVK_ASSIGN_OR_RETURN(MemoryItem m, ParseNote(f, fs::relative(f, dir), backend));
    notes.push_back(std::move(m));
  }
  report.files = static_cast<int>(notes.size());
  if (notes.empty()) return report;
  EVK_ASSIGN_OR_RETURN(InsertReport r, store.InsertMany(std::move(notes), /*skip_existing=*/true));
  report.added = static_cast<int>(r.ids.size());
  report.skipped = static_cast<int>(r.skipped);
  return report;
}

}  // namespace evokernel::memory
