// OpenQueue: a queue URL to the implementation that serves it; JobKey and JobState helpers.
#include <string>

#include "common/pg_url.h"
#include "queue/queue.h"

namespace evokernel::queue {

#ifdef EVOKERNEL_WITH_POSTGRES
Result<std::unique_ptr<EvalQueue>> OpenPostgresQueue(std::string_view url, const QueueOptions& options);
#endif

std::string JobKey::ToString() const { return run + "/" + task + "#" + std::to_string(iteration); }

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kLeased: return "leased";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

Result<std::unique_ptr<EvalQueue>> OpenQueue(std::string_view url, const QueueOptions& options) {
  if (!pg::IsPostgresUrl(url))
    return InvalidArgument("evaluation queue '" + pg::RedactPostgresUrl(url) +
                           "': the queue lives in PostgreSQL; give a postgres://... or postgresql://... URL");
  if (options.max_attempts < 1) return InvalidArgument("evaluation queue: max attempts must be >= 1");
  if (options.lock_timeout_ms < 1) return InvalidArgument("evaluation queue: lock timeout must be >= 1 ms");
#ifdef EVOKERNEL_WITH_POSTGRES
  return OpenPostgresQueue(url, options);
#else
  return Status(StatusCode::kUnavailable,
                "evaluation queue " + pg::RedactPostgresUrl(url) + ": this evokernel was built without PostgreSQL "
                "support; install libpq-dev and rebuild with -DEVOKERNEL_WITH_POSTGRES=ON");
#endif
}

}  // namespace evokernel::queue
