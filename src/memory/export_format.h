// The export format of a memory bank (docs/memory.md, CLI), independent of the store: what
// `evokernel memory export` writes and `evokernel memory import` reads, so a bank moves between
// stores (SQLite, PostgreSQL) and between embedders.
//
// JSONL: a header line {"evokernel_memory_export":1,"schema_version":...,"embedder":...,
// "dim":...,"items":N,"exported_at":...,"source":...}, then one MemoryItem::ToJson() per line.
// No vectors: the importing bank computes its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

// The format version this evokernel writes and the newest it reads.
inline constexpr int kExportFormatVersion = 1;

// What the header says of the bank exported.
struct ExportHeader {
  int schema_version = 0;
  std::string embedder;
  int dim = 0;
  int64_t items = 0;   // how many item lines follow; an import refuses a file holding another number
  std::string source;  // where the bank lives (a path; never a URL with a password)
};

// Writes one export to a stream: Header() once, Item() per item, then Finish(). A failed stream
// is an IoError "WHERE: export: the output stream failed (disk full?)", `where` naming the bank
// ("memory bank PATH").
class ExportWriter {
 public:
  ExportWriter(std::ostream& out, std::string where) : out_(out), where_(std::move(where)) {}

  Status Header(const ExportHeader& header);  // exported_at: now
  Status Item(const MemoryItem& item);
  Status Finish();  // flushes
  int64_t items() const { return items_; }  // item lines written

 private:
  Status Check() const;

  std::ostream& out_;
  std::string where_;
  int64_t items_ = 0;
};

// A whole export file, parsed and validated.
struct ParsedExport {
  std::vector<MemoryItem> items;  // in file order, ids kept
  ImportReport report;            // lines read; added and skipped are the store's to fill
};

// Reads and validates every line of an export before anything is imported: the header first
// (format version at most kExportFormatVersion; `items`, when present, a non-negative integer
// that must equal the number of item lines), then each item (MemoryItem::FromJson; an id,
// unique in the file; a non-empty backend). Blank lines are skipped. Every error is
// InvalidArgument "NAME:LINE: what is wrong; nothing was imported" (an empty file:
// "NAME: empty file, ..."); a read error is an IoError.
Result<ParsedExport> ParseExport(std::istream& in, const std::string& name);
// The same for a file, named by its path; NotFound when it cannot be opened.
Result<ParsedExport> ReadExportFile(const std::filesystem::path& file);

}  // namespace evokernel::memory
