// UsageLedger: what a run's model calls consumed — requests, tokens, cost, cache hits, retries,
// errors — in total, per task and per phase ("draft", "refine"). Filled by the accounting layer
// of the provider stack (NewAccountingProvider); read for budgets, progress and run records.
//
// Thread-safe: Record() and every reader may run concurrently. Holds no secrets: only task ids,
// phases and numbers.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "provider/provider.h"

namespace evokernel {

struct UsageTotals {
  int64_t requests = 0;    // calls made through the stack (cache hits included)
  int64_t errors = 0;      // calls that failed after all retries
  int64_t cache_hits = 0;  // calls answered from the response cache
  int64_t retries = 0;     // HTTP attempts beyond the first, over all calls
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;          // cache hits cost nothing
  int64_t estimated_usage = 0;  // answers whose token counts were estimated (chars / 4)
  int64_t unpriced = 0;         // answers from models missing from the price table (cost 0)
  int64_t oversized = 0;        // answers cut at max_reply_bytes (ChatResponse::oversized)
  double latency_s = 0;         // summed wall time of the calls

  void Add(const UsageTotals& o);
  nlohmann::json ToJson() const;
};

class UsageLedger {
 public:
  // Accounts one call. `detail` is the failure detail of a failed call (its attempts count).
  void Record(const ChatRequest& request, const Result<ChatResponse>& result,
              const FailureDetail& detail);

  UsageTotals Total() const;
  UsageTotals ForTask(const std::string& task_id) const;  // zeros for unknown tasks
  UsageTotals ForPhase(const std::string& phase) const;   // zeros for unknown phases
  // {"total": {...}, "phases": {phase: {...}}, "tasks": {task: {...totals, "phases": {...}}}}
  nlohmann::json ToJson() const;

 private:
  mutable std::mutex mu_;
  UsageTotals total_;
  std::map<std::string, UsageTotals> tasks_;
  std::map<std::string, UsageTotals> phases_;
  std::map<std::string, std::map<std::string, UsageTotals>> task_phases_;
};

}  // namespace evokernel
