// Which sanitizers this translation unit is built with, for the few places that must behave
// differently under them. GCC defines __SANITIZE_ADDRESS__; clang 14 only answers
// __has_feature(address_sanitizer).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define EVOKERNEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVOKERNEL_ASAN 1
#endif
#endif
