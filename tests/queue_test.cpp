// Unit tests of the evaluation queue (src/queue/queue.h) against a private PostgreSQL server
// (pg_test_util.h; each test gets a fresh database). Where no server can run here, the tests
// skip and say why. Leases are 1-2 s, so the binary runs in seconds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "pg_test_util.h"
#include "queue/queue.h"

namespace evokernel::queue {
namespace {

using memory::testing::PgTestCluster;
using nlohmann::json;

#define EVK_SKIP_WITHOUT_POSTGRES()                                                       \
  do {                                                                                    \
    std::string evk_why_;                                                                 \
    if (!PgTestCluster::Get(&evk_why_)) GTEST_SKIP() << "PostgreSQL tests skipped: " << evk_why_; \
  } while (0)

// A fresh database per test; Open() opens another handle (session) on the same queue.
class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EVK_SKIP_WITHOUT_POSTGRES();
    cluster_ = PgTestCluster::Get();
    dbname_ = cluster_->CreateDatabase();
    ASSERT_FALSE(dbname_.empty());
    url_ = cluster_->Url(dbname_);
  }

  std::unique_ptr<EvalQueue> Open(QueueOptions options = {}) {
    auto q = OpenQueue(url_, options);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : nullptr;
  }

  PgTestCluster* cluster_ = nullptr;
  std::string dbname_;
  std::string url_;
};

JobKey Key(int64_t iteration, std::string task = "relu") { return {"run-1", std::move(task), iteration}; }

TEST(OpenQueue, RefusesUrlsThatAreNotPostgres) {
  for (const char* url : {"queue.sqlite", "sqlite:q.db", "http://h/q", ""}) {
    auto q = OpenQueue(url);
    ASSERT_FALSE(q.ok()) << url;
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(q.status().message().find("postgres://"), std::string::npos) << q.status().message();
  }
}

TEST(OpenQueue, UnreachableServerIsUnavailableAndHidesThePassword) {
  auto q = OpenQueue("postgres://evk:secret-pw@127.0.0.1:1/q?connect_timeout=5");
  ASSERT_FALSE(q.ok());
#ifdef EVOKERNEL_WITH_POSTGRES
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable) << q.status().ToString();
#else
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(q.status().message().find("EVOKERNEL_WITH_POSTGRES"), std::string::npos) << q.status().message();
#endif
  EXPECT_EQ(q.status().message().find("secret-pw"), std::string::npos) << q.status().message();
  EXPECT_NE(q.status().message().find("postgres://evk@127.0.0.1:1/q"), std::string::npos) << q.status().message();
}

TEST_F(QueueTest, EnqueueIsIdempotentOnTheKey) {
  auto q = Open();
  ASSERT_TRUE(q);
  auto first = q->Enqueue(Key(0), "cpu", json{{"source", "a"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->job.state, JobState::kQueued);
  EXPECT_EQ(first->job.payload, (json{{"source", "a"}}));
  EXPECT_EQ(first->job.max_attempts, 3);

  auto again = q->Enqueue(Key(0), "opencl", json{{"source", "b"}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, first->job.id);
  EXPECT_EQ(again->job.backend, "cpu") << "the existing job is returned unchanged";
  EXPECT_EQ(again->job.payload, (json{{"source", "a"}}));

  ASSERT_TRUE(q->Enqueue(Key(1), "cpu", json::object()).ok());
  auto counts = q->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 2);
  EXPECT_EQ(counts->total(), 2);

  // A second handle (another host) sees the same queue, and opening it again creates nothing.
  auto other = Open();
  ASSERT_TRUE(other);
  auto got = other->Get(Key(0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, first->job.id);
  EXPECT_EQ(other->Get(Key(7)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cluster_->Value(dbname_, "SELECT value FROM queue_meta WHERE key = 'schema_version'"), "1");
}

TEST_F(QueueTest, LeaseTakesTheOldestJobOfItsBackend) {
  auto q = Open();
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->Enqueue(Key(0), "opencl", json::object()).ok());
  ASSERT_TRUE(q->Enqueue(Key(1), "cpu", json{{"n", 1}}).ok());
  ASSERT_TRUE(q->Enqueue(Key(2), "cpu", json{{"n", 2}}).ok());

  auto a = q->Lease("cpu", "w1", 30);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->key, Key(1));
  EXPECT_EQ((*a)->state, JobState::kLeased);
  EXPECT_EQ((*a)->owner, "w1");
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_GT((*a)->lease_expires_ms, (*a)->created_ms);
  auto b = q->Lease("cpu", "w2", 30);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->key, Key(2));
  auto none = q->Lease("cpu", "w3", 30);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "both cpu jobs are leased";
  auto counts = q->Counts("cpu");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->leased, 2);
  EXPECT_EQ(counts->queued, 0);
  EXPECT_EQ(q->Counts()->queued, 1) << "the opencl job";
  EXPECT_EQ(q->Lease("cpu", "w1", 0).status().code(), StatusCode::kInvalidArgument);
}

// Three workers, each with its own session, lease 60 jobs concurrently: every job is leased
// exactly once and completed once, none lost or duplicated.
TEST_F(QueueTest, ConcurrentLeasersNeverShareAJob) {
  auto q = Open();
  ASSERT_TRUE(q);
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(q->Enqueue(Key(i), "cpu", json{{"i", i}}).ok());

  std::mutex mu;
  std::map<int64_t, std::vector<std::string>> leased_by;  // job id -> workers
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      const std::string me = "w" + std::to_string(w);
      auto mine = OpenQueue(url_);
      if (!mine.ok()) {
        ++errors;
        return;
      }
      for (;;) {
        auto job = (*mine)->Lease("cpu", me, 30);
        if (!job.ok()) {
          ++errors;
          return;
        }
        if (!job->has_value()) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          leased_by[(*job)->id].push_back(me);
        }
        auto done = (*mine)->Complete((*job)->id, me, json{{"i", (*job)->payload["i"]}, {"by", me}});
        if (!done.ok() || done->outcome != CompleteOutcome::kStored) ++errors;
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(leased_by.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, by] : leased_by) EXPECT_EQ(by.size(), 1u) << "job " << id << " leased more than once";
  auto counts = q->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->done, kJobs);
  EXPECT_EQ(counts->total(), kJobs);
  for (int i = 0; i < kJobs; ++i) {
    auto job = q->Get(Key(i));
    ASSERT_TRUE(job.ok());
    ASSERT_TRUE(job->result.has_value());
    EXPECT_EQ((*job->result)["i"], i);
    EXPECT_EQ((*job->result)["by"], job->completed_by);
  }
}

// A worker that stops heartbeating loses the job to another; the other's result wins and the
// first worker's late result is ignored.
TEST_F(QueueTest, ExpiredLeaseGoesToAnotherWorkerWhoseResultWins) {
  auto q1 = Open(), q2 = Open();
  ASSERT_TRUE(q1 && q2);
  ASSERT_TRUE(q1->Enqueue(Key(0), "cpu", json::object()).ok());
  auto a = q1->Lease("cpu", "slow", 1);
  ASSERT_TRUE(a.ok() && a->has_value());
  auto early = q2->Lease("cpu", "fast", 1);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->has_value()) << "the lease still runs";

  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  auto b = q2->Lease("cpu", "fast", 5);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->has_value()) << "the expired lease is taken again";
  EXPECT_EQ((*b)->id, (*a)->id);
  EXPECT_EQ((*b)->attempts, 2);

  auto hb = q1->Heartbeat((*a)->id, "slow", 1);
  ASSERT_TRUE(hb.ok()) << hb.status().ToString();
  EXPECT_FALSE(hb->held);
  EXPECT_NE(hb->detail.find("lease lost"), std::string::npos) << hb->detail;
  EXPECT_NE(hb->detail.find("fast"), std::string::npos) << hb->detail;

  auto won = q2->Complete((*b)->id, "fast", json{{"ms", 1.5}});
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  EXPECT_EQ(won->outcome, CompleteOutcome::kStored);
  auto late = q1->Complete((*a)->id, "slow", json{{"ms", 9.0}});
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->outcome, CompleteOutcome::kIgnored);
  EXPECT_NE(late->detail.find("fast"), std::string::npos) << late->detail;
  EXPECT_EQ(late->job.result, (json{{"ms", 1.5}}));

  auto got = q1->Await(Key(0), 1000);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->state, JobState::kDone);
  EXPECT_EQ(got->completed_by, "fast");
  EXPECT_EQ(got->result, (json{{"ms", 1.5}}));
  EXPECT_EQ(q1->Fail((*a)->id, "slow", "too late")->outcome, FailOutcome::kIgnored);
}

TEST_F(QueueTest, HeartbeatKeepsALeaseAlivePastItsFirstExpiry) {
  auto q1 = Open(), q2 = Open();
  ASSERT_TRUE(q1 && q2);
  ASSERT_TRUE(q1->Enqueue(Key(0), "cpu", json::object()).ok());
  auto a = q1->Lease("cpu", "w1", 1);
  ASSERT_TRUE(a.ok() && a->has_value());
  int64_t expires = (*a)->lease_expires_ms;
  for (int i = 0; i < 4; ++i) {  // 2 s in all, twice the first lease
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto hb = q1->Heartbeat((*a)->id, "w1", 1);
    ASSERT_TRUE(hb.ok()) << hb.status().ToString();
    EXPECT_TRUE(hb->held) << hb->detail;
    EXPECT_GT(hb->lease_expires_ms, expires);
    expires = hb->lease_expires_ms;
    auto other = q2->Lease("cpu", "w2", 1);
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->has_value()) << "the heartbeating worker keeps its job";
  }
  EXPECT_EQ(q1->Heartbeat((*a)->id, "w2", 1)->held, false) << "only the owner extends a lease";
  EXPECT_EQ(q1->Heartbeat(999999, "w1", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q1->Complete((*a)->id, "w1", json{{"ok", true}})->outcome, CompleteOutcome::kStored);
  auto after = q1->Heartbeat((*a)->id, "w1", 1);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->held);
  EXPECT_NE(after->detail.find("done"), std::string::npos) << after->detail;
}

TEST_F(QueueTest, FailRequeuesThenFailsAfterMaxAttempts) {
  QueueOptions options;
  options.max_attempts = 2;
  auto q = Open(options);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->Enqueue(Key(0), "cpu", json::object()).ok());
  auto a = q->Lease("cpu", "w1", 30);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(q->Fail((*a)->id, "w2", "not mine")->outcome, FailOutcome::kIgnored) << "only the owner fails a job";
  auto f1 = q->Fail((*a)->id, "w1", "runner crashed");
  ASSERT_TRUE(f1.ok()) << f1.status().ToString();
  EXPECT_EQ(f1->outcome, FailOutcome::kRequeued);
  EXPECT_EQ(f1->job.state, JobState::kQueued);
  EXPECT_EQ(f1->job.error, "runner crashed");

  auto b = q->Lease("cpu", "w2", 30);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->attempts, 2);
  auto f2 = q->Fail((*b)->id, "w2", "runner crashed again");
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(f2->outcome, FailOutcome::kFailed);
  EXPECT_EQ(f2->job.state, JobState::kFailed);
  EXPECT_EQ(f2->job.error, "runner crashed again");
  EXPECT_FALSE(q->Lease("cpu", "w3", 30)->has_value()) << "a failed job is not leased again";
  auto got = q->Await(Key(0), 1000);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::kFailed);
  EXPECT_EQ(q->Counts()->failed, 1);
  EXPECT_EQ(q->Complete((*b)->id, "w2", json::object())->outcome, CompleteOutcome::kIgnored);

  // An expired lease on the last attempt fails the job instead of leasing it a third time.
  ASSERT_TRUE(q->Enqueue(Key(1), "cpu", json::object()).ok());
  ASSERT_TRUE(q->Lease("cpu", "w1", 1)->has_value());
  ASSERT_EQ(q->Fail(q->Get(Key(1))->id, "w1", "oom")->outcome, FailOutcome::kRequeued);
  ASSERT_TRUE(q->Lease("cpu", "w1", 1)->has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_FALSE(q->Lease("cpu", "w2", 1)->has_value());
  auto expired = q->Get(Key(1));
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->state, JobState::kFailed);
  EXPECT_NE(expired->error.find("expired"), std::string::npos) << expired->error;
}

TEST_F(QueueTest, ResultsAreIdempotentByKey) {
  auto q = Open();
  ASSERT_TRUE(q);
  auto e = q->Enqueue(Key(3, "softmax"), "cpu", json::object());
  ASSERT_TRUE(e.ok());
  auto a = q->Lease("cpu", "w1", 30);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(q->Complete((*a)->id, "w1", json{{"v", 1}})->outcome, CompleteOutcome::kStored);
  auto retry = q->Complete((*a)->id, "w1", json{{"v", 2}});
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->outcome, CompleteOutcome::kDuplicate);
  EXPECT_EQ(retry->job.result, (json{{"v", 1}})) << "the first result stays";
  // Enqueueing the key again returns the done job with its result; nothing is re-run.
  auto again = q->Enqueue(Key(3, "softmax"), "cpu", json::object());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.state, JobState::kDone);
  EXPECT_EQ(again->job.result, (json{{"v", 1}}));
  EXPECT_FALSE(q->Lease("cpu", "w2", 30)->has_value());
  EXPECT_EQ(q->Get(Key(3, "softmax"))->result, (json{{"v", 1}}));
  EXPECT_EQ(q->Complete(424242, "w1", json::object()).status().code(), StatusCode::kNotFound);
  auto pending = q->Enqueue(Key(4, "softmax"), "cpu", json::object());
  ASSERT_TRUE(pending.ok());
  auto waited = q->Await(Key(4, "softmax"), 200, 50);
  EXPECT_EQ(waited.status().code(), StatusCode::kTimeout) << waited.status().ToString();
}

TEST_F(QueueTest, LostConnectionIsAClearErrorAndTheNextCallReconnects) {
  auto q = Open();
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->Enqueue(Key(0), "cpu", json::object()).ok());
  ASSERT_EQ(cluster_->Exec("postgres", "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '" +
                                           dbname_ + "'"),
            "");
  auto lost = q->Lease("cpu", "w1", 30);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  EXPECT_NE(lost.status().message().find("lost the connection"), std::string::npos) << lost.status().message();
  EXPECT_NE(lost.status().message().find(url_), std::string::npos) << lost.status().message();
  auto next = q->Lease("cpu", "w1", 30);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_TRUE(next->has_value()) << "the failed call took nothing; the next one reconnects and leases";
}

TEST_F(QueueTest, WorkersRegisterHeartbeatAndList) {
  auto q = Open();
  ASSERT_TRUE(q);
  WorkerInfo w;
  w.id = "host-a:gpu0";
  w.host = "host-a";
  w.backend = "cuda";
  w.device = "NVIDIA H100";
  w.peaks = json{{"gflops", 60000}, {"gbps", 3000}};
  ASSERT_TRUE(q->RegisterWorker(w).ok());
  w.id = "host-b:cpu";
  w.backend = "cpu";
  w.peaks = json::object();
  ASSERT_TRUE(q->RegisterWorker(w).ok());
  EXPECT_TRUE(q->WorkerHeartbeat("host-a:gpu0").ok());
  EXPECT_EQ(q->WorkerHeartbeat("nobody").code(), StatusCode::kNotFound);
  auto list = q->ListWorkers();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "host-a:gpu0");
  EXPECT_EQ((*list)[0].backend, "cuda");
  EXPECT_EQ((*list)[0].peaks["gflops"], 60000);
  EXPECT_GE((*list)[0].last_seen_ms, (*list)[0].registered_ms);
  EXPECT_GE((*list)[0].seconds_since_seen, 0.0);
  EXPECT_LT((*list)[0].seconds_since_seen, 60.0);
  EXPECT_EQ((*list)[1].id, "host-b:cpu");
}

TEST_F(QueueTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(Open());
  ASSERT_EQ(cluster_->Exec(dbname_, "UPDATE queue_meta SET value = '99' WHERE key = 'schema_version'"), "");
  auto q = OpenQueue(url_);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable) << q.status().ToString();
  EXPECT_NE(q.status().message().find("newer evokernel"), std::string::npos) << q.status().message();
}

// Two hosts creating the queue in a new database at once: one creates it, both open it.
TEST_F(QueueTest, ConcurrentOpensCreateTheSchemaOnce) {
  std::vector<std::thread> openers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&] {
      auto q = OpenQueue(url_);
      if (q.ok()) ++ok;
      else ADD_FAILURE() << q.status().ToString();
    });
  for (auto& t : openers) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(cluster_->Value(dbname_, "SELECT count(*) FROM queue_meta"), "1");
}

}  // namespace
}  // namespace evokernel::queue
