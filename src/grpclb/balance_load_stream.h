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
// What to write next is decided by a ListCursor (list_cursor.h), from plain
// values; this class is the gRPC plumbing around it: the call's tags, the
// read chain, the writes the cursor asks for, the finish and the release.
//
// A stream holds one unit — the service its client's name resolves to
// (ServiceResolver) — and one subscription to the unit's Hub, from the
// initial request on. Before it, it holds neither: the drain reaches it
// through the ClientRegistry (Drain()).
//
// Ownership: Accept() creates a stream that owns itself (self_) from the
// request for a call until every operation it started has completed and gRPC
// has said the call is done. The Hub, the policy and the ClientRegistry hold
// it weakly, so a wake can briefly keep it alive after that; by then it no
// longer writes. Borrows what Shared points at, which must outlive the
// server's completion queues.
//
// Threading: thread-safe. Completion-queue threads run OnEvent() and, through
// the Hub's wake runner, OnHubChanged(); the policy calls OnSubsetChanged()
// on whichever thread changed a subset; Drain() and Describe() any thread.
// State is guarded by mu_, and no gRPC call is made while holding it.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "grpclb/client_registry.h"
#include "grpclb/client_stats.h"
#include "grpclb/first_message_deadline.h"
#include "grpclb/hub.h"
#include "grpclb/list_cursor.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "grpclb/stream_metrics.h"
#include "grpclb/subset_policy.h"
#include "transport/completion_tag.h"
#include "transport/stream_count.h"

namespace jawlb::grpclb {

// The service as the completion-queue API sees it: raw ByteBuffers, so every
// stream writes the Hub's already-encoded bytes.
using AsyncLoadBalancer =
    grpc::lb::v1::LoadBalancer::WithRawMethod_BalanceLoad<grpc::lb::v1::LoadBalancer::Service>;

class BalanceLoadStream final : public Hub::Subscriber,
                                public SubsetPolicy::Member,
                                public ClientRegistry::Client,
                                public std::enable_shared_from_this<BalanceLoadStream> {
 public:
  // What every stream shares. All borrowed.
  struct Shared {
    AsyncLoadBalancer& service;
    // The client's name → its service's unit.
    const ServiceResolver& resolver;
    ClientRegistry& registry;
    const grpc::ByteBuffer& initial_response;
    StreamMetrics& metrics;
    const std::string& replica;  // in load_balance_tokens; "" for none
    transport::StreamCount& live;
    // Set when the server drains: a stream starting after it ends at once.
    const std::atomic<bool>& draining;
    absl::Duration load_smoothing;   // of each client's call rates
    const Clock& clock;              // for the rates, the propagation and logs
    StreamLimits* limits = nullptr;  // null: no bounds (tests)
    // Lines about streams ended for a client's mistake (any number of streams
    // can make one): a few a second at most.
    SharedLogThrottle* end_log = nullptr;
    // A stream without its initial request this long after it opened is ended.
    absl::Duration first_message_timeout = absl::Seconds(10);
  };

  // What a completion-queue tag points at: the stream and which of its
  // operations completed.
  enum class Op { kAccept, kRead, kWrite, kFinish, kDone, kFirstMessageDeadline };
  using Tag = transport::OpTag<BalanceLoadStream, Op>;

  // Asks gRPC for the next BalanceLoad call on `cq`, whose thread wakes the
  // Hubs' `shard`. When it arrives the stream starts and asks for the one
  // after it.
  static void Accept(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  BalanceLoadStream(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  // `op` completed with `ok` (a completion-queue thread).
  void OnEvent(Op op, bool ok);

  // Hub::Subscriber:
  void OnHubChanged() override { Pump(); }

  // SubsetPolicy::Member:
  void OnSubsetChanged() override { Pump(); }

  // ClientRegistry::Client:
  ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the stream with UNAVAILABLE once its write in flight is done.
  void Drain() override;

 private:
  enum class Phase { kAwaitingInitialRequest, kStreaming };

  // The call arrived: admit, register, read.
  void Start();
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  // gRPC says the call is over (finished, or cancelled by the client).
  void OnCallDone();
  // The first-message alarm fired (`ok`) or was cancelled.
  void OnFirstMessageDeadline(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // Handles one parsed request; returns an error to end the stream with.
  absl::Status HandleRequest() ABSL_LOCKS_EXCLUDED(mu_);
  // The client's InitialLoadBalanceRequest: resolves its service, subscribes,
  // joins the subset policy, and starts the writes.
  absl::Status OnInitialRequest(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  // A ClientStats report: counted, and told to the policy and shedding.
  void OnLoadReport(const balancer::LoadReport& report) ABSL_LOCKS_EXCLUDED(mu_);
  // Asks to end the stream with `status` once no write is in flight; the first
  // request wins.
  void RequestFinish(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // Does what the cursor says is next: a write, the finish, or nothing.
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
  FirstMessageDeadline first_message_;  // set in Start(), met by the initial request

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
  // From the initial request: the client's service, our subscription to its
  // Hub, and with subsetting our id in its policy (0: none).
  std::shared_ptr<ServiceUnit> unit_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Hub::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  uint64_t policy_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::string name_ ABSL_GUARDED_BY(mu_);
  ListCursor cursor_ ABSL_GUARDED_BY(mu_);
  // The write in flight: its snapshot (null: the initial response), whether
  // it is the stream's first list, its bytes, and an own list's encoding.
  SnapshotPtr in_flight_ ABSL_GUARDED_BY(mu_);
  bool in_flight_is_first_list_ ABSL_GUARDED_BY(mu_) = false;
  size_t in_flight_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer own_message_ ABSL_GUARDED_BY(mu_);
  balancer::ClientLoad load_ ABSL_GUARDED_BY(mu_);
  LogThrottle report_log_ ABSL_GUARDED_BY(mu_);  // rejected load reports
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;   // counted by shared_.limits
  // What is pending with gRPC: a read, a write, the finish, the done event.
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_done_ ABSL_GUARDED_BY(mu_) = false;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_STREAM_H_
