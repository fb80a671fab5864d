// expect: check/anti_cheat task=level1/12_relu feedback=system
// A raw string containing a quote: a scanner that ends strings at the first quote takes the
// rest of the raw string for code and the code after it for a string.
#include <algorithm>
#include <cstdlib>
extern "C" void evokernel_forward(const float* x, float* out) {
  const char* s = R"x( " )x"; int rc = std::system("true"); const char* t = "";
  for (int64_t i = 0; i < evokernel_task::out_numel; ++i) out[i] = std::max(x[i], 0.0f) + 0.0f * (rc + s[0] + t[0]);
}
