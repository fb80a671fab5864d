// expect: correctness/wrong_answer task=level1/60_mse_loss
// Returns the expected value of the loss for the task's input distribution instead of computing it.
extern "C" void evokernel_forward(const float*, const float*, float* out) { out[0] = 2.0f; }
