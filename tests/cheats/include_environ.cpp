// expect: check/anti_cheat task=level1/12_relu feedback=include
// Includes a process's environment through a macro, to have its lines quoted back in compiler
// errors (which are sent to the model provider).
#define ENV </proc/self/environ>
#include ENV
extern "C" void evokernel_forward(const float* x, float* out) { out[0] = x[0]; }
