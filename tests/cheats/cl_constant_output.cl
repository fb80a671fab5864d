// expect: correctness/wrong_answer task=level1/60_mse_loss
// Returns a plausible constant for the loss without reading the inputs (the inputs' variance).
__kernel void mse(__global float* restrict out) { out[0] = 2.0f; }
//@launch mse global=(1) local=(1) args=(out)
