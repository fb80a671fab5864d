// The export format on its own (memory/export_format.h): writing then parsing round-trips the
// items; a cut-short file, a duplicate id and bad headers are refused with FILE:LINE messages.
#include "memory/export_format.h"

#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "memory_test_util.h"

namespace evokernel::memory {
namespace {
namespace fs = std::filesystem;
using testing::Item;
using testing::Sig;

std::vector<MemoryItem> SomeItems() {
  std::vector<MemoryItem> items;
  items.push_back(testing::FullItem());
  MemoryItem b = Item(ItemKind::kKnowledge, Stage::kAny, Sig({"conv2d"}, "conv"), "conv note", "tile \"it\"\n");
  b.id = "seed-00000000000000bb";
  b.signature.task_id.clear();
  items.push_back(b);
  MemoryItem c = Item(ItemKind::kSummary, Stage::kDraft, Sig({"softmax"}, "softmax", "level1/23_softmax"));
  c.id = "m-000000000000000c";
  c.backend = "opencl";
  c.signature.text = "unicode \xc3\xa9 text";
  items.push_back(c);
  return items;
}

std::string Export(const std::vector<MemoryItem>& items, std::optional<int64_t> declared = std::nullopt) {
  std::ostringstream out;
  ExportWriter w(out, "memory bank /b.sqlite");
  EXPECT_TRUE(w.Header({1, "structural-v1", 64, declared.value_or(static_cast<int64_t>(items.size())), "/b.sqlite"}).ok());
  for (const auto& m : items) EXPECT_TRUE(w.Item(m).ok());
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.items(), static_cast<int64_t>(items.size()));
  return out.str();
}

Result<ParsedExport> Parse(const std::string& text) {
  std::istringstream in(text);
  return ParseExport(in, "bank.jsonl");
}

TEST(ExportFormat, WriteThenParseRoundTripsTheItems) {
  const std::vector<MemoryItem> items = SomeItems();
  const std::string text = Export(items);
  auto header = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(header["evokernel_memory_export"], 1);
  EXPECT_EQ(header["schema_version"], 1);
  EXPECT_EQ(header["embedder"], "structural-v1");
  EXPECT_EQ(header["dim"], 64);
  EXPECT_EQ(header["items"], 3);
  EXPECT_EQ(header["source"], "/b.sqlite");
  EXPECT_TRUE(header["exported_at"].is_number_integer());

  auto parsed = Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->report.lines, 3);
  EXPECT_EQ(parsed->report.added, 0);
  EXPECT_EQ(parsed->report.skipped, 0);
  ASSERT_EQ(parsed->items.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(parsed->items[i].ToJson(), items[i].ToJson()) << i;

  // An empty bank exports a header alone, which imports as nothing.
  auto none = Parse(Export({}));
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->report.lines, 0);

  // Blank lines (and a CRLF copy) are skipped; line numbers still count them.
  std::string spaced = text;
  spaced.insert(spaced.find('\n') + 1, "\n  \r\n");
  ASSERT_TRUE(Parse(spaced).ok());
}

TEST(ExportFormat, ReadsAFileAndNamesItInErrors) {
  auto made = MakeTempDir("evokernel-export-format-test-");
  ASSERT_TRUE(made.ok());
  ScopedDir dir(*made);
  const fs::path file = dir.path() / "bank.jsonl";
  const std::string text = Export(SomeItems());
  {
    std::ofstream(file) << text;
  }
  auto parsed = ReadExportFile(file);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->items.size(), 3u);

  {
    std::ofstream(file) << text.substr(0, text.rfind('\n', text.size() - 2) + 1);  // last item cut
  }
  auto cut = ReadExportFile(file);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().message(), file.string() + ":1: the header says the export holds 3 items but the file has 2 "
                                                    "(cut short or edited?); nothing was imported");
  auto missing = ReadExportFile(dir.path() / "missing.jsonl");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "cannot read " + (dir.path() / "missing.jsonl").string() +
                                            ": No such file or directory");
}

TEST(ExportFormat, RefusesBadFilesWithFileAndLine) {
  const std::vector<MemoryItem> items = SomeItems();
  const std::string a = items[0].ToJson().dump(), b = items[1].ToJson().dump();
  const std::string header = R"({"evokernel_memory_export":1})";
  auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = items[0].ToJson();
    edit(j);
    return j.dump();
  };
  struct Case {
    std::string name, text, message;
  };
  const std::vector<Case> cases = {
      {"cut short", Export({items[0]}, 2),
       "bank.jsonl:1: the header says the export holds 2 items but the file has 1 (cut short or edited?)"},
      {"more than declared", Export(items, 1),
       "bank.jsonl:1: the header says the export holds 1 items but the file has 3 (cut short or edited?)"},
      {"duplicate id", header + "\n" + a + "\n" + b + "\n\n" + a + "\n",
       "bank.jsonl:5: duplicate id 'm-0123456789abcdef' (also on line 2)"},
      {"no header", a + "\n",
       "bank.jsonl:1: not an evokernel memory export: the first line must be the header "
       "{\"evokernel_memory_export\":1,...} written by evokernel memory export"},
      {"header not an object", "\n[1, 2]\n" + a + "\n",
       "bank.jsonl:2: not an evokernel memory export: the first line must be the header "
       "{\"evokernel_memory_export\":1,...} written by evokernel memory export"},
      {"header version not an integer", R"({"evokernel_memory_export":"1"})",
       "bank.jsonl:1: header: evokernel_memory_export must be a positive integer"},
      {"header version zero", R"({"evokernel_memory_export":0})",
       "bank.jsonl:1: header: evokernel_memory_export must be a positive integer"},
      {"newer format", R"({"evokernel_memory_export":2})" "\n" + a + "\n",
       "bank.jsonl:1: export format 2 is newer than this evokernel reads (1); import it with a newer evokernel"},
      {"negative count", R"({"evokernel_memory_export":1,"items":-1})",
       "bank.jsonl:1: header: items must be a non-negative integer"},
      {"no id", header + "\n" + edited([](auto& j) { j.erase("id"); }) + "\n",
       "bank.jsonl:2: missing field 'id' (imported items keep their ids, so importing twice skips them)"},
      {"empty backend", header + "\n" + edited([](auto& j) { j["backend"] = ""; }) + "\n",
       "bank.jsonl:2: field 'backend': must not be empty"},
      {"wrong type", header + "\n" + edited([](auto& j) { j["q_draft"] = "0.5"; }) + "\n",
       "bank.jsonl:2: field 'q_draft': expected a number, got string"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(r.status().message(), c.message + "; nothing was imported") << c.name;
  }
  // The parser's own words follow "malformed JSON: ".
  auto r = Parse(header + "\n" + a + "\n{\"id\": \n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("bank.jsonl:3: malformed JSON: ", 0), 0u) << r.status().message();
  EXPECT_TRUE(r.status().message().ends_with("; nothing was imported")) << r.status().message();
  for (const std::string empty : {"", "\n\n  \n"}) {
    auto r = Parse(empty);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(),
              "bank.jsonl: empty file, expected an evokernel memory export; nothing was imported");
  }
}

// Per-state values travel with their item; an item without them writes no "state_values" field,
// so exports of banks without state values read as before.
TEST(ExportFormat, StateValuesRoundTripAndAreValidated) {
  std::vector<MemoryItem> items = SomeItems();
  items[0].state_values = {{Stage::kDraft, "matmul", 0.36, 2, 1700000000100},
                           {Stage::kRefine, "gemm_fusion", -0.25, 7, 1700000000200}};
  const std::string text = Export(items);
  auto parsed = Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->items.size(), 3u);
  EXPECT_EQ(parsed->items[0].state_values, items[0].state_values);
  EXPECT_EQ(parsed->items[0].ToJson(), items[0].ToJson());
  EXPECT_FALSE(items[1].ToJson().contains("state_values"));
  EXPECT_TRUE(parsed->items[1].state_values.empty());

  const std::string header = R"({"evokernel_memory_export":1})";
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = items[0].ToJson();
    edit(j);
    return header + "\n" + j.dump() + "\n";
  };
  struct Case {
    std::string name, text, message;
  };
  const std::vector<Case> cases = {
      {"not an array", with([](auto& j) { j["state_values"] = 1; }),
       "bank.jsonl:2: field 'state_values': expected an array, got number"},
      {"stage any", with([](auto& j) { j["state_values"][0]["stage"] = "any"; }),
       "bank.jsonl:2: field 'state_values[0].stage': must be draft or refine, got 'any'"},
      {"empty state", with([](auto& j) { j["state_values"][1]["state"] = ""; }),
       "bank.jsonl:2: field 'state_values[1].state': must not be empty"},
      {"q not a number", with([](auto& j) { j["state_values"][0]["q"] = "x"; }),
       "bank.jsonl:2: field 'state_values[0].q': expected a number, got string"},
      {"negative visits", with([](auto& j) { j["state_values"][0]["visits"] = -1; }),
       "bank.jsonl:2: field 'state_values[0].visits': -1 is outside [0, 9223372036854775807]"},
      {"unknown field", with([](auto& j) { j["state_values"][0]["extra"] = 1; }),
       "bank.jsonl:2: unknown field 'state_values[0].extra'"},
      {"duplicate", with([](auto& j) { j["state_values"][1] = j["state_values"][0]; }),
       "bank.jsonl:2: field 'state_values[1]': duplicate value for stage draft, state 'matmul'"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().message(), c.message + "; nothing was imported") << c.name;
  }
}

TEST(ExportFormat, AFailedStreamIsAnError) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  ExportWriter w(out, "memory bank /b.sqlite");
  Status st = w.Header({1, "structural-v1", 64, 1, "/b.sqlite"});
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(st.message(), "memory bank /b.sqlite: export: the output stream failed (disk full?)");
  EXPECT_FALSE(w.Item(SomeItems()[0]).ok());
  EXPECT_FALSE(w.Finish().ok());
  EXPECT_EQ(w.items(), 0);
}

}  // namespace
}  // namespace evokernel::memory
