// Internal to the memory stores (sqlite_store.cpp, postgres_store.cpp): what every store does
// the same way, defined once so the stores accept, stamp, embed and summarise items identically.
// The stores own only their database: transactions, SQL and the recall index's refresh.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"
#include "memory/recall_index.h"
#include "memory/signature.h"

namespace evokernel::memory {

// False when `s` holds a NUL byte (no store keeps those).
bool ValidText(std::string_view s);

// A fresh item id: "m-" + 16 hex digits from `rng`.
std::string NewItemId(std::mt19937_64& rng);

// A generator for NewItemId, seeded per store instance from the OS and the clock, so two
// processes (or banks) never share a sequence.
std::mt19937_64 SeededIdGenerator();

// Validates a batch before insertion, in the caller's order: backend set (the signature's
// backend defaults to it), finite values, non-negative visits, well-formed state values, no NUL
// in text, ids at most 256 bytes and unique in the batch. Empty ids are assigned from `rng`, and
// created_at/updated_at of 0 become `now` (updated_at: created_at). Errors are kInvalidArgument
// "WHERE: item I (ID): what is wrong".
Status ValidateAndStampItems(std::vector<MemoryItem>& items, const std::string& where, int64_t now,
                             std::mt19937_64& rng);

// The embeddings of validated items (one batch request to `embedder`) as float32 blobs of
// `dim` floats in host byte order, the bytes both stores keep per item.
Result<std::vector<std::string>> EmbedItems(const Embedder& embedder, int dim, const std::vector<MemoryItem>& items);

// Rejects, naming the item, an update of stage kAny, a non-finite reward, alpha outside (0, 1]
// or a state longer than 256 bytes or holding NUL.
Status ValidateUpdates(const std::vector<ValueUpdate>& updates, const std::string& where);

// Minimum, quartiles (linear interpolation), maximum and mean of visited items' values.
QSummary SummariseValues(std::vector<double> values);

// The embedder a store uses for a bank recorded with `bank_embedder` (`bank_dim` dimensions):
// the configured one, which must match (else kInvalidArgument saying how to re-embed); without
// one, the built-in embedder when the bank records it, else null (the bank then opens for
// reading and value updates only; RequireEmbedder says what to configure).
Result<std::shared_ptr<const Embedder>> ResolveBankEmbedder(const StoreOptions& options,
                                                            const std::string& bank_embedder, int bank_dim,
                                                            const std::string& where);

// OK when `embedder` is set, else kInvalidArgument naming the bank's embedder and `what` needs it.
Status RequireEmbedder(const Embedder* embedder, std::string_view what, const std::string& bank_embedder,
                       int bank_dim, const std::string& where);

// What Recall asks of the recall index: the query's vector, embedded as the bank's items are, and
// its filter (string views into `q`, which must outlive it). kInvalidArgument for a pool size
// outside [1, 1000000]; kInternal when the embedder's dimension is not the bank's.
struct RecallPlan {
  std::vector<float> vector;
  RecallFilter filter;
};
Result<RecallPlan> PlanRecall(const RecallQuery& q, const Embedder& embedder, int bank_dim, const std::string& where);

// The options every store's Prune accepts: at least one criterion, keep_per_task >= 0, and a
// draft or refine Q stage when a criterion reads Q.
Status ValidatePruneOptions(const PruneOptions& o);

}  // namespace evokernel::memory
