// CompletionQueues: the server's completion queues and the threads that drain
// them, one thread per queue. Made first and given to everything that runs on
// them: the BalanceLoad service (its streams) and the service units (their
// Hubs' wakes, one shard per queue), so dependencies run one way.
//
// Use: AddTo(builder) before builder.BuildAndStart(); Start() after it; every
// Hub given wake_runner() goes back to no runner before Stop(), which comes
// after server->Shutdown() and once no operation is pending on the queues.
//
// Owns the queues and threads. Threading: AddTo/Start/Stop on one thread (the
// App's); wake_runner() and its runner thread-safe.
#ifndef JAWLB_TRANSPORT_COMPLETION_QUEUES_H_
#define JAWLB_TRANSPORT_COMPLETION_QUEUES_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"

namespace jawlb::transport {

class CompletionQueues {
 public:
  // `count` queues (0: DefaultCount()).
  explicit CompletionQueues(int count = 0);
  // Stops.
  ~CompletionQueues();
  CompletionQueues(const CompletionQueues&) = delete;
  CompletionQueues& operator=(const CompletionQueues&) = delete;

  // Eight per core, 8 to 64 (see the .cc for why so many).
  static int DefaultCount();

  // How many queues (and Hub shards) there are.
  size_t size() const { return count_; }
  // Makes the queues, with `builder`.
  void AddTo(grpc::ServerBuilder& builder);
  // Queue `i`. REQUIRES: AddTo() was called.
  grpc::ServerCompletionQueue* queue(size_t i) const { return queues_[i].get(); }
  // Starts one thread per queue, running each event's CompletionTag.
  void Start();
  // Runs a Hub's wake of shard `s` on queue `s` (modulo the count), as an
  // alarm due now. REQUIRES: AddTo() was called before the first wake.
  using ShardRunner = std::function<void(size_t shard, std::function<void()> wake)>;
  ShardRunner wake_runner();
  // Shuts the queues down and joins the threads (a queue never drained by a
  // thread is drained here). Idempotent.
  void Stop();

 private:
  const size_t count_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_COMPLETION_QUEUES_H_
