// The similarity function of recall: an Embedder maps (task signature, item text) to an
// L2-normalised vector, and similarity is the dot product (cosine). Pluggable: the bank records
// the embedder's name and dimension, and opening a bank with another embedder is an error (the
// stored vectors would not be comparable); re-embed by exporting and importing into a new bank.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/memory.h"

namespace evokernel::memory {

struct EmbedRequest {
  const TaskSignature* signature = nullptr;  // not owned; must be non-null
  std::string_view text;                     // item text (EmbeddingText) or extra query text
};

// Thread safety: Embed and EmbedBatch may be called from several threads at once.
class Embedder {
 public:
  virtual ~Embedder() = default;
  // Recorded in the bank ("structural-v1", "http:text-embedding-3-small"); changes whenever the
  // vectors of the same input would change.
  virtual std::string name() const = 0;
  virtual int dim() const = 0;
  // A unit-length vector of dim() floats (or all zeros for an empty input).
  virtual Result<std::vector<float>> Embed(const TaskSignature& signature,
                                           std::string_view text) const = 0;
  // One vector per request, in order. The default calls Embed for each.
  virtual Result<std::vector<std::vector<float>>> EmbedBatch(
      const std::vector<EmbedRequest>& requests) const;
};

// The text of an item that is embedded together with its signature: title, feedback and the
// start of the content (the first 512 bytes: enough for a note's opening or a kernel's comments
// and includes; more code would drown the signature's words in identifiers).
std::string EmbeddingText(const MemoryItem& item);

// The default, built-in embedder ("structural-v1", 64 dimensions). The vector is the
// concatenation of weighted blocks, each block L2-normalised and scaled by sqrt(weight) before
// the whole vector is normalised, so for two signatures with every block present
//     cosine = sum over blocks of weight * cosine within the block.
//
//   block     dims weight  features (feature hashing: stable FNV-1a, bucket and sign from the hash)
//   ops        24   0.45   each operator (1.0), its family without the 1d/2d/3d suffix (0.5) and
//                          its class: gemm, conv, pool, norm, reduction, scan, activation,
//                          elementwise, attention, loss (0.5)
//   category    8   0.15   each category
//   shapes      8   0.10   input/output ranks, log4 buckets of element counts, input count
//   text       16   0.15   lower-case words of 3+ letters (stop words dropped), 1 + log(tf)
//   backend     4   0.10   backend name
//   level       4   0.05   KernelBench level (low: experience should cross levels)
//
// Why: operator types decide which code and which experience transfer (a relu trace helps a
// gelu task; a conv trace helps conv+relu), so they dominate, with partial credit within a
// family and class so L1 experience reaches fused L2 tasks. Category is a coarser restatement
// of the same. Shapes separate small from huge problems (tiling advice differs) but must not
// outweigh the operator. Text catches what structure misses (descriptions, note titles).
// Backend matters only when recall is not already filtered by backend. A block absent on one
// side (a note has no shapes) contributes 0 and the rest are renormalised.
std::shared_ptr<const Embedder> MakeStructuralEmbedder();

// An OpenAI-compatible embeddings endpoint: POST <base_url>/embeddings with
// {"model": ..., "input": [texts]} and "Authorization: Bearer <key>" when a key is set. The text
// sent is a rendering of the signature (backend, category, level, operators, shapes) followed by
// the item text. Vectors are checked for the expected dimension and L2-normalised.
struct HttpEmbedderOptions {
  std::string base_url;     // "http://127.0.0.1:8080/v1", "https://api.openai.com/v1"
  std::string model;        // "text-embedding-3-small"
  std::string api_key_env;  // name of the environment variable holding the key; empty: no key
  int dim = 0;              // expected vector length (required)
  std::chrono::milliseconds timeout{30000};  // whole request
  int max_batch = 64;                        // texts per request in EmbedBatch
};
// Errors: kInvalidArgument (empty URL or model, dim < 1, key variable named but unset).
// Embed fails with kProviderError (HTTP status, malformed JSON, wrong dimension; the message
// includes the status and the start of the body) or kTimeout. The key is never logged or put in
// an error message.
Result<std::shared_ptr<const Embedder>> MakeHttpEmbedder(const HttpEmbedderOptions& options);

// The text the HTTP embedder sends for a request (exposed for tests and docs).
std::string RenderForEmbedding(const TaskSignature& signature, std::string_view text);

// An operator's family: the name without a trailing 1d/2d/3d ("conv2d" -> "conv"); the name itself
// otherwise.
std::string OpFamily(std::string_view op);

// Dot product of two vectors of the same length.
float Dot(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace evokernel::memory
