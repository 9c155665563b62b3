// BalanceLoadStream: one client's BalanceLoad stream, on gRPC's asynchronous
// (completion-queue) API. Reads the client's InitialLoadBalanceRequest and then
// its ClientStats for as long as the stream lives, and writes the
// InitialLoadBalanceResponse followed by every new ServerList the Hub publishes.
//
// Latest-wins: at most one write is in flight. When it completes, the stream
// writes the Hub's newest snapshot if that holds a different list than the one
// the client last got; snapshots published meanwhile are skipped, never queued.
// A slow client therefore costs one buffered message and delays no one.
//
// Why not the callback API: gRPC 1.51 runs callback-API reactions on two
// "nexting" threads that, after a second without work, sleep 100 ms before
// polling again — a write completed during that sleep is reported up to 100 ms
// late, and the next list waits for it (measured with bench/fanout; see
// docs/performance.md). Completion queues drained by our own threads, blocked in
// Next(), report at once.
//
// Ownership: Accept() creates a stream that owns itself (self_) from the
// request for a call until every operation it started has completed and gRPC
// has said the call is done. The Hub and the ClientRegistry hold it weakly, so a
// wake can briefly keep it alive after that; by then it no longer writes.
// Borrows the service, its completion queue, the Hub, the ClientRegistry and
// the StreamMetrics, which must outlive the server's completion queues.
//
// Threading: thread-safe. The completion-queue threads run OnEvent(); the
// Hub's publishing thread runs OnHubChanged(). State is guarded by mu_, and no
// gRPC call is made while holding it.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

#include "common/log_throttle.h"
#include "grpclb/client_registry.h"
#include "grpclb/client_stats.h"
#include "grpclb/completion_tag.h"
#include "grpclb/hub.h"
#include "grpclb/load_shedding.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "grpclb/stream_metrics.h"
#include "grpclb/subset_policy.h"

namespace jawlb::grpclb {

// The service as the completion-queue API sees it: raw ByteBuffers, so every
// stream writes the Hub's already-encoded bytes.
using AsyncLoadBalancer =
    grpc::lb::v1::LoadBalancer::WithRawMethod_BalanceLoad<grpc::lb::v1::LoadBalancer::Service>;

// How many streams still hold their call (from the request for a call until
// everything it started has completed). The service waits for none before it
// shuts its completion queues: an operation started on a shut-down queue
// aborts the process.
class StreamCount {
 public:
  void Add() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  void Done() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  // True when none is left within `timeout`.
  bool WaitForNone(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* count) { return *count == 0; }, &count_),
                                timeout);
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

class BalanceLoadStream final : public Hub::Subscriber,
                                public SubsetPolicy::Member,
                                public ClientRegistry::Client,
                                public std::enable_shared_from_this<BalanceLoadStream> {
 public:
  // What every stream of a service shares. All borrowed.
  struct Shared {
    AsyncLoadBalancer& service;
    Hub& hub;
    ClientRegistry& registry;
    const grpc::ByteBuffer& initial_response;
    StreamMetrics& metrics;
    SubsetPolicy& policy;        // per-client lists when enabled
    LoadShedding& shedding;      // told each client's rate when enabled
    const std::string& replica;  // in load_balance_tokens; "" for none
    StreamCount& live;
    absl::Duration load_smoothing;  // of each client's call rates
    // Multi mode: routes each client's name to its service (null: every
    // stream is served from `hub`, which then only closes in multi mode).
    const ServiceResolver* resolver = nullptr;
    StreamLimits* limits = nullptr;  // null: no bounds (tests)
    // Lines about streams ended for a client's mistake (any number of streams
    // can make one): a few a second at most.
    SharedLogThrottle* end_log = nullptr;
    // A stream without its initial request this long after it opened is ended.
    absl::Duration first_message_timeout = absl::Seconds(10);
  };

  // The longest InitialLoadBalanceRequest.name taken (the grpclb spec: "less
  // than 256 bytes"); longer ones end the stream with INVALID_ARGUMENT.
  static constexpr size_t kMaxNameBytes = 255;

  // What a completion-queue tag points at: the stream and which of its
  // operations completed.
  enum class Op { kAccept, kRead, kWrite, kFinish, kDone, kFirstMessageDeadline };
  class Tag final : public CompletionTag {
   public:
    Tag(BalanceLoadStream* stream, Op op) : stream_(stream), op_(op) {}
    void Proceed(bool ok) override { stream_->OnEvent(op_, ok); }

   private:
    BalanceLoadStream* const stream_;
    const Op op_;
  };

  // Asks gRPC for the next BalanceLoad call on `cq`, whose thread wakes the
  // Hub's `shard`. When it arrives the stream starts and asks for the one
  // after it.
  static void Accept(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  BalanceLoadStream(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  // `op` completed with `ok` (a completion-queue thread).
  void OnEvent(Op op, bool ok);

  // Hub::Subscriber:
  void OnHubChanged() override;

  // SubsetPolicy::Member:
  void OnSubsetChanged() override;

  // ClientRegistry::Client:
  ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class Phase { kAwaitingInitialRequest, kStreaming };

  // The call arrived: register, subscribe, read, write.
  void Start();
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  // gRPC says the call is over (finished, or cancelled by the client).
  void OnCallDone();
  // The first-message alarm fired (`ok`) or was cancelled.
  void OnFirstMessageDeadline(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // Handles one parsed request; returns an error to end the stream with.
  absl::Status HandleRequest() ABSL_LOCKS_EXCLUDED(mu_);
  // The client's InitialLoadBalanceRequest: routes it (multi mode), joins the
  // subset policy, and starts the writes.
  absl::Status OnInitialRequest(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  // A ClientStats report: counted, and told to the policy and shedding.
  void OnLoadReport(const balancer::LoadReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // The Hub state lists come from (the service's, closed when the shared Hub
  // closes too), and this client's own list when subsetting is on.
  Hub::State ListSource() const;
  std::optional<discovery::BackendSet> OwnSubset() const ABSL_LOCKS_EXCLUDED(mu_);
  // Asks to end the stream with `status` once no write is in flight; the first
  // request wins.
  void RequestFinish(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the next write or the Finish, whichever is due.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes the call with `status` (once, after the last write).
  void EndWith(const grpc::Status& status);
  // Lets go of the stream once nothing it started is pending.
  void MaybeRelease() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const Shared shared_;
  grpc::ServerCompletionQueue* const cq_;
  const size_t shard_;
  Tag accept_tag_{this, Op::kAccept};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  Tag deadline_tag_{this, Op::kFirstMessageDeadline};
  grpc::Alarm first_message_alarm_;  // set in Start(), cancelled by the initial request

  // gRPC's side of the call; thread-safe as gRPC allows (one read and one
  // write in flight, Finish after the last write).
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> rw_{&context_};

  // Set once the call arrives (before any other event can run).
  std::string peer_;
  absl::Time connected_;

  // Used only by the read chain (one read in flight at a time).
  grpc::ByteBuffer request_;
  Phase phase_ = Phase::kAwaitingInitialRequest;

  mutable absl::Mutex mu_;
  std::shared_ptr<BalanceLoadStream> self_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ClientRegistry::Registration> registration_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Hub::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  // Multi mode: the client's service, and our subscription to its Hub.
  std::shared_ptr<ServiceUnit> unit_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Hub::Subscription> unit_subscription_ ABSL_GUARDED_BY(mu_);
  // Where the lists come from: the shared Hub, or the unit's once routed. Read
  // without mu_ on every wake.
  std::atomic<Hub*> list_hub_;
  std::string name_ ABSL_GUARDED_BY(mu_);
  bool initial_received_ ABSL_GUARDED_BY(mu_) = false;
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;       // counted by shared_.limits
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;  // first_message_alarm_ set, not yet fired
  LogThrottle report_log_ ABSL_GUARDED_BY(mu_);      // rejected load reports
  balancer::ClientLoad load_ ABSL_GUARDED_BY(mu_);
  bool initial_response_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotPtr in_flight_ ABSL_GUARDED_BY(mu_);  // the list being written (its snapshot)
  size_t in_flight_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool in_flight_is_first_list_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotPtr last_sent_ ABSL_GUARDED_BY(mu_);
  // The policy and shedding this client is under: the service-wide ones, or
  // its unit's once routed (multi mode). `subsetting_` says whether the policy
  // is enabled, read without mu_ on every wake.
  SubsetPolicy* policy_ ABSL_GUARDED_BY(mu_);
  LoadShedding* shedding_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> subsetting_;
  // With a SubsetPolicy: this client's id there (0: not joined), its last list
  // written, and the encoded bytes of the list being written.
  uint64_t policy_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<discovery::BackendSet> last_list_ ABSL_GUARDED_BY(mu_);
  int last_drop_percent_ ABSL_GUARDED_BY(mu_) = 0;  // of last_list_
  grpc::ByteBuffer own_message_ ABSL_GUARDED_BY(mu_);
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_done_ ABSL_GUARDED_BY(mu_) = false;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_
