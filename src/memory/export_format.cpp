#include "memory/export_format.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <unordered_map>

#include <fmt/format.h>

namespace evokernel::memory {

Status ExportWriter::Check() const {
  if (out_) return Status::Ok();
  return IoError(where_ + ": export: the output stream failed (disk full?)");
}

Status ExportWriter::Header(const ExportHeader& h) {
  nlohmann::json header = {{"evokernel_memory_export", kExportFormatVersion},
                           {"schema_version", h.schema_version},
                           {"embedder", h.embedder},
                           {"dim", h.dim},
                           {"items", h.items},
                           {"exported_at", NowMs()},
                           {"source", h.source}};
  out_ << header.dump() << "\n";
  return Check();
}

Status ExportWriter::Item(const MemoryItem& m) {
  out_ << m.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  EVK_RETURN_IF_ERROR(Check());
  ++items_;
  return Status::Ok();
}

Status ExportWriter::Finish() {
  out_.flush();
  return Check();
}

Result<ParsedExport> ParseExport(std::istream& in, const std::string& name) {
  auto at = [&](int64_t line, const std::string& what) {
    return InvalidArgument(fmt::format("{}:{}: {}; nothing was imported", name, line, what));
  };
  ParsedExport parsed;
  std::vector<MemoryItem>& items = parsed.items;
  std::unordered_map<std::string, int64_t> first_line;
  std::string line;
  int64_t lineno = 0;
  bool header = false;
  std::optional<int64_t> declared;  // the header's item count (exports since the first have it)
  int64_t header_line = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return at(lineno, std::string("malformed JSON: ") + e.what());
    }
    if (!header) {
      if (!j.is_object() || !j.contains("evokernel_memory_export"))
        return at(lineno, "not an evokernel memory export: the first line must be the header "
                          "{\"evokernel_memory_export\":1,...} written by evokernel memory export");
      const auto& v = j["evokernel_memory_export"];
      if (!v.is_number_integer() || v.get<int64_t>() < 1)
        return at(lineno, "header: evokernel_memory_export must be a positive integer");
      if (v.get<int64_t>() > kExportFormatVersion)
        return at(lineno, fmt::format("export format {} is newer than this evokernel reads ({}); import it "
                                      "with a newer evokernel",
                                      v.get<int64_t>(), kExportFormatVersion));
      if (j.contains("items")) {
        if (!j["items"].is_number_integer() || j["items"].get<int64_t>() < 0)
          return at(lineno, "header: items must be a non-negative integer");
        declared = j["items"].get<int64_t>();
      }
      header = true;
      header_line = lineno;
      continue;
    }
    auto m = MemoryItem::FromJson(j);
    if (!m.ok()) return at(lineno, m.status().message());
    if (m->id.empty())
      return at(lineno, "missing field 'id' (imported items keep their ids, so importing twice skips them)");
    if (auto [it, fresh] = first_line.emplace(m->id, lineno); !fresh)
      return at(lineno, fmt::format("duplicate id '{}' (also on line {})", m->id, it->second));
    if (m->backend.empty()) return at(lineno, "field 'backend': must not be empty");
    items.push_back(std::move(m).value());
    ++parsed.report.lines;
  }
  if (in.bad()) return IoError("cannot read " + name + ": " + std::strerror(errno));
  if (!header) return InvalidArgument(name + ": empty file, expected an evokernel memory export; nothing was imported");
  // An export cut short (a partial copy, a full disk) must not pass as a smaller bank.
  if (declared && *declared != static_cast<int64_t>(items.size()))
    return at(header_line, fmt::format("the header says the export holds {} items but the file has {} (cut short or "
                                       "edited?)",
                                       *declared, items.size()));
  return parsed;
}

Result<ParsedExport> ReadExportFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("cannot read " + file.string() + ": " + std::strerror(errno));
  return ParseExport(in, file.string());
}

}  // namespace evokernel::memory
