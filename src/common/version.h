// Which code produced a result.
#pragma once

namespace evokernel {

// `git describe --always --dirty` of the source tree when this binary was built ("unknown"
// outside a git checkout). Determined at build time, not at CMake configure time.
const char* GitCommit();

}  // namespace evokernel
