#include "provider/ledger.h"

#include <chrono>

namespace evokernel {

void UsageTotals::Add(const UsageTotals& o) {
  requests += o.requests;
  errors += o.errors;
  cache_hits += o.cache_hits;
  retries += o.retries;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  cost_usd += o.cost_usd;
  estimated_usage += o.estimated_usage;
  unpriced += o.unpriced;
  oversized += o.oversized;
  latency_s += o.latency_s;
}

nlohmann::json UsageTotals::ToJson() const {
  return {{"requests", requests},         {"errors", errors},
          {"cache_hits", cache_hits},     {"retries", retries},
          {"input_tokens", input_tokens}, {"output_tokens", output_tokens},
          {"cost_usd", cost_usd},         {"estimated_usage", estimated_usage},
          {"unpriced", unpriced},         {"oversized", oversized},
          {"latency_s", latency_s}};
}

void UsageLedger::Record(const ChatRequest& request, const Result<ChatResponse>& result,
                         const FailureDetail& detail) {
  UsageTotals d;
  d.requests = 1;
  if (result.ok()) {
    const ChatResponse& r = *result;
    d.cache_hits = r.from_cache ? 1 : 0;
    d.retries = r.attempts > 1 ? r.attempts - 1 : 0;
    d.latency_s = r.latency_s;
    if (!r.from_cache) {
      d.input_tokens = r.usage.input_tokens;
      d.output_tokens = r.usage.output_tokens;
      d.cost_usd = r.usage.cost_usd;
      d.estimated_usage = r.usage.estimated ? 1 : 0;
      d.unpriced = r.usage.cost_known ? 0 : 1;
      d.oversized = r.oversized ? 1 : 0;
    }
  } else {
    d.errors = 1;
    d.retries = detail.attempts > 1 ? detail.attempts - 1 : 0;
  }
  std::lock_guard<std::mutex> lock(mu_);
  total_.Add(d);
  if (!request.task_id.empty()) tasks_[request.task_id].Add(d);
  if (!request.phase.empty()) phases_[request.phase].Add(d);
  if (!request.task_id.empty() && !request.phase.empty())
    task_phases_[request.task_id][request.phase].Add(d);
}

UsageTotals UsageLedger::Total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

UsageTotals UsageLedger::ForTask(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? UsageTotals{} : it->second;
}

UsageTotals UsageLedger::ForPhase(const std::string& phase) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = phases_.find(phase);
  return it == phases_.end() ? UsageTotals{} : it->second;
}

nlohmann::json UsageLedger::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json phases = nlohmann::json::object(), tasks = nlohmann::json::object();
  for (const auto& [p, t] : phases_) phases[p] = t.ToJson();
  for (const auto& [id, t] : tasks_) {
    nlohmann::json j = t.ToJson();
    j["phases"] = nlohmann::json::object();
    if (auto it = task_phases_.find(id); it != task_phases_.end())
      for (const auto& [p, pt] : it->second) j["phases"][p] = pt.ToJson();
    tasks[id] = std::move(j);
  }
  return {{"total", total_.ToJson()}, {"phases", phases}, {"tasks", tasks}};
}

namespace {

class AccountingProvider final : public ProviderWrapper {
 public:
  AccountingProvider(std::unique_ptr<Provider> target, std::shared_ptr<UsageLedger> ledger)
      : ProviderWrapper(std::move(target)), ledger_(std::move(ledger)) {}

  Result<ChatResponse> CompleteWithDetail(const ChatRequest& request,
                                          FailureDetail* detail) override {
    auto r = ProviderWrapper::CompleteWithDetail(request, detail);
    ledger_->Record(request, r, *detail);
    return r;
  }

 private:
  std::shared_ptr<UsageLedger> ledger_;
};

}  // namespace

std::unique_ptr<Provider> NewAccountingProvider(std::unique_ptr<Provider> target,
                                                std::shared_ptr<UsageLedger> ledger) {
  if (!ledger) ledger = std::make_shared<UsageLedger>();
  return std::make_unique<AccountingProvider>(std::move(target), std::move(ledger));
}

}  // namespace evokernel
