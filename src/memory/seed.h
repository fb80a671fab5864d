// Seed knowledge: curated notes shipped with evokernel (knowledge/<backend>/*.md), loaded into a
// bank as its M_0 (method.md: "M_0 holds seed knowledge").
//
// A note is markdown with front matter:
//
//   ---
//   title: Vectorising element-wise loops
//   kind: knowledge            (knowledge | best_practice; default knowledge)
//   stage: any                 (draft | refine | any; default any)
//   ops: relu, gelu, sigmoid   (comma-separated operator names; normalised like task operators)
//   categories: activation     (comma-separated task categories)
//   ---
//   body (markdown): becomes the item's content
//
// Seeding is idempotent: a note's id is "seed-" + the first 16 hex digits of
// sha256(backend + "\n" + path relative to dir + "\n" + file content), and ids already in the bank
// are skipped. Editing a note therefore adds its new version next to the old one (which keeps its
// learned values; prune it with evokernel memory prune --include-knowledge if unwanted).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

// Parses one note. `relative` is its path relative to the seed directory (part of its id).
// Errors are kInvalidArgument "FILE:LINE: what is wrong" (no opening or closing '---', a line
// without ':', an unknown or repeated key, a bad kind or stage, no title, an empty body).
Result<MemoryItem> ParseNote(const std::filesystem::path& file, const std::filesystem::path& relative,
                             std::string_view backend);

struct SeedReport {
  int files = 0;    // notes found
  int added = 0;    // new in the bank
  int skipped = 0;  // already there
};

// Loads every *.md under `dir` except README.md (recursively, in path order). All notes are parsed before any is
// inserted: one bad note fails the whole seeding with its FILE:LINE and the bank unchanged. Then
// one transaction inserts the new ones. kNotFound when dir does not exist.
Result<SeedReport> SeedKnowledge(MemoryStore& store, std::string_view backend,
                                 const std::filesystem::path& dir);

// Where a backend's shipped notes live: <DataDir()>/knowledge/<backend>.
std::filesystem::path DefaultKnowledgeDir(std::string_view backend);

}  // namespace evokernel::memory
