// Fuzz target: importing a memory bank export (`evokernel memory import FILE`, JSONL: a header
// line, then one item per line; parsed by memory/export_format.cpp, inserted by
// MemoryStore::Import in memory/sqlite_store.cpp).
//
// Input: the export file. It is read from a memfd (no disk write per input) into an SQLite
// bank in this process's private directory; the bank is made afresh after any input that
// imported something, so no input sees another's items. Checked: nothing throws; a refused
// import says FILE:LINE and leaves the bank empty; an accepted one adds every item line, and
// exporting the bank and importing that export into another fresh bank adds the same items.

#include <cstdint>
#include <sstream>

#include "fuzz/fuzz_util.h"
#include "memory/memory.h"

namespace evokernel::fuzz {
namespace {
namespace fs = std::filesystem;
namespace mem = evokernel::memory;

// A bank file in the private directory, reopened empty on demand.
class Bank {
 public:
  explicit Bank(std::string name) : file_(PrivateDir() / name) { Reset(); }
  mem::MemoryStore& operator*() { return *store_; }
  mem::MemoryStore* operator->() { return store_.get(); }
  const fs::path& file() const { return file_; }

  void Reset() {
    store_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(file_.string() + suffix, ec);
    auto s = mem::OpenSqliteStore(file_);
    if (!s.ok()) Die("cannot open a bank: " + s.status().ToString());
    store_ = std::move(s).value();
  }

 private:
  fs::path file_;
  std::unique_ptr<mem::MemoryStore> store_;
};

int64_t Items(Bank& bank) {
  auto st = bank->Stats();
  if (!st.ok()) Die("stats failed: " + st.status().ToString());
  return st->items;
}

}  // namespace
}  // namespace evokernel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel;
  using namespace evokernel::fuzz;
  static MemFile input;
  static Bank bank("bank.sqlite"), again("again.sqlite");

  input.Set(AsText(data, size));
  auto report = bank->Import(input.path());
  Note("import: " + (report.ok() ? std::to_string(report->added) + " added" : report.status().ToString()));
  if (!report.ok()) {
    const std::string& msg = report.status().message();
    EVK_FUZZ_CHECK(msg.find(input.path().string()) != std::string::npos, "the error does not name the file: " + msg);
    EVK_FUZZ_CHECK(Items(bank) == 0, "a refused import changed the bank: " + msg);
    return 0;
  }
  EVK_FUZZ_CHECK(report->skipped == 0 && report->added == report->lines,
                 "an import into an empty bank skipped items");
  EVK_FUZZ_CHECK(Items(bank) == report->added, "the bank does not hold what was imported");

  // What was imported exports, and the export imports.
  std::stringstream exported;
  auto written = bank->Export(exported);
  EVK_FUZZ_CHECK(written.ok(), written.ok() ? "" : written.status().ToString());
  EVK_FUZZ_CHECK(*written == report->added, "export wrote another number of items than were imported");
  input.Set(exported.str());
  auto back = again->Import(input.path());
  EVK_FUZZ_CHECK(back.ok(), back.ok() ? "" : "an export does not import: " + back.status().ToString());
  EVK_FUZZ_CHECK(back->added == report->added, "re-importing the export added another number of items");

  bank.Reset();
  again.Reset();
  return 0;
}
