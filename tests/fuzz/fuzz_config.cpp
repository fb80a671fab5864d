// Fuzz target: the configuration files evokernel reads.
//   TOML: the provider config (`--config FILE`, $EVOKERNEL_CONFIG: LoadProviderConfig, then
//         Validate) and the price table (LoadPriceTable), both from the same text.
//   JSON: a run's config.json, read back by `evolve --resume` (EvolveConfig::FromJson), and the
//         cached machine peaks of the roofline check (MachinePeaks::FromJson).
// (The suite manifest, suite.toml, is fuzzed with the task parser: fuzz_task.)
//
// Input: the file. When its first non-blank character is '{' it is taken as JSON, else as TOML.
// It is read from a memfd; the environment is not consulted (an empty lookup), so EVOKERNEL_*
// variables of the machine running the fuzzer change nothing. Checked: nothing throws;
// refusals carry a message; what loads can be written back (ToJson, dumped) and a written
// run config or peaks file loads again.

#include <cstdint>

#include "agent/agent.h"
#include "fuzz/fuzz_util.h"
#include "provider/config.h"
#include "roofline/roofline.h"

namespace evokernel::fuzz {
namespace {

void FuzzJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;  // the product reports the parser's message (RunRecord::Open)

  auto cfg = EvolveConfig::FromJson(j);
  Note("run config: " + (cfg.ok() ? std::string("loaded") : cfg.status().ToString()));
  if (cfg.ok()) {
    auto again = EvolveConfig::FromJson(nlohmann::json::parse(cfg->ToJson().dump(2)));
    EVK_FUZZ_CHECK(again.ok(), "a written run config does not load: " + again.status().ToString());
    EVK_FUZZ_CHECK(again->ToJson() == cfg->ToJson(), "a run config changes when written and read back");
  } else {
    EVK_FUZZ_CHECK(!cfg.status().message().empty(), "an error without a message");
  }

  auto peaks = MachinePeaks::FromJson(j);
  Note("peaks: " + (peaks.ok() ? std::string("loaded") : peaks.status().ToString()));
  if (peaks.ok()) {
    (void)peaks->BandwidthFor(1 << 20);
    auto again = MachinePeaks::FromJson(nlohmann::json::parse(peaks->ToJson().dump(2)));
    EVK_FUZZ_CHECK(again.ok(), "written peaks do not load: " + again.status().ToString());
  }
}

void FuzzToml(MemFile& file) {
  const EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto cfg = LoadProviderConfig(file.path(), no_env);
  Note("provider config: " + (cfg.ok() ? std::string("loaded") : cfg.status().ToString()));
  if (cfg.ok()) {
    Status valid = cfg->Validate();
    Note("provider config: " + (valid.ok() ? std::string("valid") : valid.ToString()));
    EVK_FUZZ_CHECK(valid.ok() || !valid.message().empty(), "an error without a message");
    (void)cfg->ToJson().dump();
    (void)cfg->Endpoint();
    for (const auto& [model, price] : cfg->prices) (void)cfg->PriceFor(model);
  } else {
    EVK_FUZZ_CHECK(!cfg.status().message().empty(), "an error without a message");
  }
  std::map<std::string, Price> prices;
  Status st = LoadPriceTable(file.path(), prices);
  Note("price table: " + (st.ok() ? std::to_string(prices.size()) + " model(s)" : st.ToString()));
  EVK_FUZZ_CHECK(st.ok() || !st.message().empty(), "an error without a message");
}

}  // namespace
}  // namespace evokernel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel::fuzz;
  static MemFile file;
  const std::string_view text = AsText(data, size);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    FuzzJson(text);
  } else {
    file.Set(text);
    FuzzToml(file);
  }
  return 0;
}
