// A second process for memory_process_test: uses a bank the way another agent process would.
//
//   memory_helper update BANK ROUNDS ALPHA REWARD ID...
//       ROUNDS calls of ApplyUpdates, each updating Q_draft of every ID (one transaction each).
//   memory_helper insert BANK CATEGORY OP...
//       inserts one code trace with these operators and prints its id.
//   memory_helper writer BANK TAG
//       writes until killed, printing a line only after the call returned:
//         "I <id>"            after Insert
//         "B <tag> <id> x5"   after InsertMany of 5 items whose run_id is <tag>
//         "U"                 after ApplyUpdates on earlier items
//
// Exit status 0 on success, 2 with a message on stderr on failure.
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "memory/memory.h"

namespace mem = evokernel::memory;

namespace {

int Fail(const evokernel::Status& st) {
  std::cerr << "memory_helper: " << st.ToString() << "\n";
  return 2;
}

mem::MemoryItem Trace(std::vector<std::string> ops, std::string category, std::string content) {
  mem::MemoryItem m;
  m.kind = mem::ItemKind::kTrace;
  m.stage = mem::Stage::kDraft;
  m.backend = "cpu";
  m.signature.ops = std::move(ops);
  m.signature.category = std::move(category);
  m.signature.task_id = "helper/" + m.signature.category;
  m.signature.backend = "cpu";
  m.title = "helper trace";
  m.content = std::move(content);
  return m;
}

void Line(const std::string& s) {
  std::fputs((s + "\n").c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: memory_helper update|insert|writer BANK ...\n";
    return 2;
  }
  const std::string mode = argv[1];
  auto store = mem::OpenSqliteStore(argv[2]);
  if (!store.ok()) return Fail(store.status());

  if (mode == "update" && argc >= 7) {
    int rounds = std::stoi(argv[3]);
    double alpha = std::stod(argv[4]), reward = std::stod(argv[5]);
    std::vector<mem::ValueUpdate> ups;
    for (int i = 6; i < argc; ++i) ups.push_back({argv[i], mem::Stage::kDraft, reward, alpha});
    for (int r = 0; r < rounds; ++r) {
      evokernel::Status st = (*store)->ApplyUpdates(ups);
      if (!st.ok()) return Fail(st);
    }
    Line("ok");
    return 0;
  }
  if (mode == "insert" && argc >= 5) {
    std::vector<std::string> ops(argv + 4, argv + argc);
    auto id = (*store)->Insert(Trace(ops, argv[3], "// inserted by memory_helper\n"));
    if (!id.ok()) return Fail(id.status());
    Line(*id);
    return 0;
  }
  if (mode == "writer") {
    const std::string tag = argv[3];
    std::mt19937_64 rng(std::random_device{}());
    std::vector<std::string> written;
    // Several KiB per item, so transactions span many pages and a kill can land inside one.
    auto content = [&] {
      std::string s(4096 + rng() % 8192, 'x');
      for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
      return s;
    };
    for (uint64_t i = 0;; ++i) {
      switch (i % 3) {
        case 0: {
          auto id = (*store)->Insert(Trace({"relu"}, "activation", content()));
          if (!id.ok()) return Fail(id.status());
          written.push_back(*id);
          Line("I " + *id);
          break;
        }
        case 1: {
          std::vector<mem::MemoryItem> batch;
          std::string batch_tag = tag + "-" + std::to_string(i);
          for (int k = 0; k < 5; ++k) {
            batch.push_back(Trace({"matmul"}, "matmul", content()));
            batch.back().run_id = batch_tag;
          }
          auto r = (*store)->InsertMany(std::move(batch));
          if (!r.ok()) return Fail(r.status());
          std::string line = "B " + batch_tag;
          for (const auto& id : r->ids) {
            line += " " + id;
            written.push_back(id);
          }
          Line(line);
          break;
        }
        default: {
          std::vector<mem::ValueUpdate> ups;
          for (int k = 0; k < 5; ++k) ups.push_back({written[rng() % written.size()], mem::Stage::kRefine, 0.5, 0.2});
          evokernel::Status st = (*store)->ApplyUpdates(ups);
          if (!st.ok()) return Fail(st);
          Line("U");
        }
      }
    }
  }
  std::cerr << "memory_helper: bad arguments for mode '" << mode << "'\n";
  return 2;
}
