// Fuzz target: kernel extraction from a model's reply (generator/extract.h), the first thing the
// agent does with text an LLM wrote.
//
// Input: the reply. Its first byte, when the reply is not empty, also picks the entry point
// and the finish reason (as a model's reply arrives with one), so every corpus file stays a
// readable reply. Checked: extraction never throws and always classifies the reply: an ok
// result has code and no failure, a failed one a documented category and feedback.

#include <cstdint>
#include <string>

#include "generator/extract.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evokernel;
  using namespace evokernel::fuzz;
  const std::string_view reply = AsText(data, size);
  const uint8_t pick = size > 0 ? data[0] : 0;
  static constexpr std::string_view kEntries[] = {"evokernel_forward", "main_kernel"};
  static constexpr std::string_view kFinish[] = {"", "stop", "length", "end_turn"};
  const std::string_view entry = kEntries[pick & 1];
  const std::string_view finish = kFinish[(pick >> 1) & 3];
  const std::string_view hint = (pick & 8) ? "reply with one ```c fenced block" : "";

  Extraction x = ExtractKernel(reply, entry, finish, hint);
  Note(x.ok ? "extracted " + std::to_string(x.code.size()) + " bytes" : "failed: " + x.failure);
  if (x.ok) {
    EVK_FUZZ_CHECK(x.failure.empty(), x.failure);
    EVK_FUZZ_CHECK(!x.code.empty(), "ok without code");
    EVK_FUZZ_CHECK(x.code.size() <= reply.size() + 1, "more code than reply");
    EVK_FUZZ_CHECK(x.unfenced || x.code.find(entry) != std::string::npos,
                   "a fenced block without the entry point was chosen");
  } else {
    EVK_FUZZ_CHECK(x.failure == "empty_response" || x.failure == "no_code" || x.failure == "truncated" ||
                       x.failure == "no_entry_point",
                   "undocumented failure '" + x.failure + "'");
    EVK_FUZZ_CHECK(!x.feedback.empty(), "a failure without feedback");
    EVK_FUZZ_CHECK(x.code.empty(), "a failure with code");
  }
  EVK_FUZZ_CHECK(x.blocks >= 0, "negative block count");
  return 0;
}
