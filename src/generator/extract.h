// Kernel extraction: the kernel source inside a model's reply.
//
// Real model output is messy: prose around a fenced block, several blocks (a sketch, then the
// final version), blocks without a language tag, no fence at all, or a reply cut off by the
// token limit. Extraction never fails with an error: a reply it cannot use becomes an
// infeasible attempt with a category and feedback the model can act on, like any verifier
// failure.
#pragma once

#include <string>
#include <string_view>

namespace evokernel {

struct Extraction {
  bool ok = false;
  std::string code;
  // When !ok: "empty_response", "no_code", "truncated", "no_entry_point".
  std::string failure;
  std::string feedback;  // for the model's next prompt
  int blocks = 0;        // fenced code blocks found
  bool unfenced = false;  // code taken from a reply without fences
};

// Rules, in order:
//  1. Fenced blocks (``` or ~~~, any or no language tag): the last complete block that
//     mentions `entry_point` wins (models revise as they go). If none mentions it, the reply
//     fails with "no_entry_point".
//  2. A fence opened and never closed: "truncated" when `finish_reason` is "length" or no
//     complete block mentions the entry point; otherwise rule 1 applies to the complete ones.
//  3. No fences: if the reply mentions the entry point, the code runs from the first line that
//     looks like C/C++ or OpenCL C (#include, #pragma, #define, extern, template, namespace,
//     static, inline, typedef, using, struct, __kernel, //, /*) to the end; else "no_code".
// `hint` says how a reply should hold a kernel (SourceLanguage::reply_hint); the CPU backend's
// when empty.
Extraction ExtractKernel(std::string_view reply, std::string_view entry_point = "evokernel_forward",
                         std::string_view finish_reason = "", std::string_view hint = "");

}  // namespace evokernel
