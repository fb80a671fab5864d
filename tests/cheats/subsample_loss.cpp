// expect: correctness/wrong_answer task=level1/60_mse_loss
// Estimates the mean from every 8th element.
extern "C" void evokernel_forward(const float* p, const float* t, float* out) {
  double s = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < evokernel_task::predictions_numel; i += 8, ++n) s += double(p[i] - t[i]) * (p[i] - t[i]);
  out[0] = static_cast<float>(s / n);
}
