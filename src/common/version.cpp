#include "common/version.h"

#include "evokernel_commit.h"  // generated into the build tree by cmake/git_commit.cmake

namespace evokernel {

const char* GitCommit() { return EVOKERNEL_GIT_COMMIT_VALUE; }

}  // namespace evokernel
