// The LLM generators: a prompt rendered from templates (prompt.h) -> the provider (retries,
// cache, accounting; provider/provider.h) -> the kernel extracted from the reply (extract.h).
// One class, configured per method (generator.h): what it is shown and what the loop gives it
// differ, the way it proposes does not.
#pragma once

#include <filesystem>
#include <memory>

#include "generator/generator.h"
#include "provider/provider.h"

namespace evokernel {

// `provider` must outlive the generator. `prompts_dir` empty: <data dir>/prompts/<backend>.
// `backend` names the shipped knowledge notes pass@k demonstrates from.
std::unique_ptr<Generator> MakeLlmGenerator(Method method, Provider& provider, std::string backend,
                                            std::filesystem::path prompts_dir = {});

}  // namespace evokernel
