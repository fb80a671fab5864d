#include "common/wire.h"

#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "common/sanitizers.h"

namespace evokernel {
namespace {

using Clock = std::chrono::steady_clock;

// Large buffers are mappings reused after they are freed (no page faults trial after trial),
// bounded by kTensorCacheBytes; small ones come from malloc.
TEST(Tensor, LargeBuffersAreReusedAndZeroLengthIsValid) {
  const std::vector<int64_t> shape = {3, 1 << 20};  // 12 MiB of float32
  const std::byte* first = nullptr;
  {
    Tensor a("a", DType::kFloat32, shape);
    first = a.data();
    std::memset(a.data(), 1, a.nbytes());
  }
  Tensor b("b", DType::kFloat32, shape);
#if !defined(EVOKERNEL_ASAN)  // ASan builds use the instrumented allocator throughout
  EXPECT_EQ(b.data(), first);
#else
  (void)first;
#endif
  std::memset(b.data(), 2, b.nbytes());  // writable over its whole length
  Tensor c("c", DType::kFloat32, shape);  // b is alive: a different buffer
  EXPECT_NE(c.data(), b.data());
  Tensor clone = b.Clone();
  EXPECT_EQ(std::memcmp(clone.data(), b.data(), b.nbytes()), 0);
  Tensor empty("e", DType::kFloat32, {0});
  EXPECT_NE(empty.data(), nullptr);
  // More than the cache holds is freed and reallocated without error.
  for (int i = 0; i < 3; ++i) {
    std::vector<Tensor> many;
    for (size_t k = 0; k < kTensorCacheBytes / (size_t{12} << 20) + 4; ++k) many.emplace_back("m", DType::kFloat32, shape);
  }
}

TEST(Wire, RoundTripsHeaderAndTensors) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Frame f;
  f.header = {{"cmd", "run"}, {"x", 42}};
  Tensor a("a", DType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) a.as<float>()[i] = static_cast<float>(i) * 0.5f;
  Tensor b("b", DType::kInt64, {4});
  for (int i = 0; i < 4; ++i) b.as<int64_t>()[i] = -i;
  f.tensors.push_back(std::move(a));
  f.tensors.push_back(std::move(b));
  ASSERT_TRUE(WriteFrame(fds[1], f).ok());
  close(fds[1]);
  FrameReader r(fds[0]);
  auto g = r.Read(Clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->header["cmd"], "run");
  EXPECT_EQ(g->header["x"], 42);
  ASSERT_EQ(g->tensors.size(), 2u);
  EXPECT_EQ(g->tensors[0].shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_FLOAT_EQ(g->tensors[0].as<float>()[5], 2.5f);
  EXPECT_EQ(g->tensors[1].dtype(), DType::kInt64);
  EXPECT_EQ(g->tensors[1].as<int64_t>()[3], -3);
  // Stream ends: next read reports EOF, not a hang.
  auto h = r.Read(Clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kIoError);
  close(fds[0]);
}

TEST(Wire, RejectsMalformedHeader) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string junk = "{not json\n";
  ASSERT_EQ(write(fds[1], junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  close(fds[1]);
  FrameReader r(fds[0]);
  auto g = r.Read(Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("malformed frame header"), std::string::npos);
  close(fds[0]);
}

TEST(Wire, TruncatedPayloadIsAnError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string h = R"({"tensors":[{"name":"a","dtype":"float32","shape":[4],"nbytes":16}]})" "\n" "abcd";
  ASSERT_EQ(write(fds[1], h.data(), h.size()), static_cast<ssize_t>(h.size()));
  close(fds[1]);
  FrameReader r(fds[0]);
  auto g = r.Read(Clock::now() + std::chrono::seconds(5));
  EXPECT_FALSE(g.ok());
  close(fds[0]);
}

TEST(Wire, SizeMismatchIsAnError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string h = R"({"tensors":[{"name":"a","dtype":"float32","shape":[4],"nbytes":15}]})" "\n";
  ASSERT_EQ(write(fds[1], h.data(), h.size()), static_cast<ssize_t>(h.size()));
  close(fds[1]);
  FrameReader r(fds[0]);
  auto g = r.Read(Clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("size mismatch"), std::string::npos);
  close(fds[0]);
}

// Regression (found by tests/fuzz/fuzz_frame): a descriptor of the wrong type threw
// nlohmann::json::type_error out of Read() instead of returning an error.
TEST(Wire, MalformedTensorDescriptorsAreErrorsNotExceptions) {
  for (const char* header : {R"({"tensors":[1]})", R"({"tensors":[{"name":"a","dtype":"float32","shape":[],"nbytes":"4"}]})",
                             R"({"tensors":[{"name":7,"dtype":"float32","shape":[1]}]})",
                             R"({"tensors":[{"name":"a","dtype":["float32"],"shape":[1]}]})",
                             R"({"tensors":[{"name":"a","dtype":"float32","shape":[1.5]}]})",
                             R"({"tensors":[{"name":"a","dtype":"float32","shape":[-1]}]})",
                             R"({"tensors":[{"name":"a","dtype":"float32","shape":{"0":1}}]})"}) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string h = std::string(header) + "\n" + std::string(64, '\0');
    ASSERT_EQ(write(fds[1], h.data(), h.size()), static_cast<ssize_t>(h.size()));
    close(fds[1]);
    FrameReader r(fds[0]);
    Result<Frame> g = IoError("not read");
    EXPECT_NO_THROW(g = r.Read(Clock::now() + std::chrono::seconds(5))) << header;
    EXPECT_FALSE(g.ok()) << header;
    EXPECT_EQ(g.status().code(), StatusCode::kIoError) << header;
    close(fds[0]);
  }
}

// Regression (found by tests/fuzz/fuzz_frame): the shape was multiplied without overflow checks
// (signed overflow) and the tensor allocated before the payload limit was checked.
TEST(Wire, OversizedShapeIsRefusedBeforeAllocating) {
  for (const char* header : {R"({"tensors":[{"name":"a","dtype":"float32","shape":[4294967296,4294967296]}]})",
                             R"({"tensors":[{"name":"a","dtype":"float64","shape":[0,18446744073709551615]}]})",
                             R"({"tensors":[{"name":"a","dtype":"uint8","shape":[1024,1024,1024,1024]}]})",
                             R"({"tensors":[{"name":"a","dtype":"uint8","shape":[600]},{"name":"b","dtype":"uint8","shape":[600]}]})"}) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string h = std::string(header) + "\n" + std::string(1200, 'x');
    ASSERT_EQ(write(fds[1], h.data(), h.size()), static_cast<ssize_t>(h.size()));
    close(fds[1]);
    FrameReader r(fds[0], 1 << 20, /*max_payload_bytes=*/1000);
    auto g = r.Read(Clock::now() + std::chrono::seconds(5));
    ASSERT_FALSE(g.ok()) << header;
    EXPECT_NE(g.status().message().find("payload too large"), std::string::npos) << g.status().message();
    close(fds[0]);
  }
}

}  // namespace
}  // namespace evokernel
