#include "xds/lrs_service.h"

#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"
#include "spdlog/spdlog.h"

#include "balancer/client_load.h"
#include "grpclb/first_message_deadline.h"
#include "grpclb/grpc_status.h"
#include "transport/completion_tag.h"
#include "transport/connection_listener.h"
#include "transport/peer.h"

namespace jawlb::xds {
namespace {

using envoy::service::load_stats::v3::LoadStatsRequest;
using envoy::service::load_stats::v3::LoadStatsResponse;

// a + b, at most INT64_MAX: the counts come from the client (an absurd one
// is then refused by ClientLoad, never overflowed into a small one).
int64_t SaturatingAdd(int64_t a, uint64_t b) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (b >= kMax || a >= static_cast<int64_t>(kMax - b)) return std::numeric_limits<int64_t>::max();
  return a + static_cast<int64_t>(b);
}

// One ClusterStats as the balancer reads load: calls started include the
// dropped ones (as grpclb's ClientStats counts them), finished ones the
// successful, failed and dropped; drops by category stand for tokens.
balancer::LoadReport ToLoadReport(const envoy::config::endpoint::v3::ClusterStats& stats) {
  balancer::LoadReport report;
  int64_t issued = 0;
  int64_t done = 0;
  for (const auto& locality : stats.upstream_locality_stats()) {
    issued = SaturatingAdd(issued, locality.total_issued_requests());
    done = SaturatingAdd(SaturatingAdd(done, locality.total_successful_requests()),
                         locality.total_error_requests());
  }
  int64_t dropped = 0;
  for (const auto& drop : stats.dropped_requests()) {
    report.drops.emplace_back(drop.category(), SaturatingAdd(0, drop.dropped_count()));
    dropped = SaturatingAdd(dropped, drop.dropped_count());
  }
  report.calls_started = SaturatingAdd(issued, static_cast<uint64_t>(dropped));
  report.calls_finished = SaturatingAdd(done, static_cast<uint64_t>(dropped));
  report.calls_known_received = done;
  return report;
}

}  // namespace

// One client's LRS stream: reads its reports, answers the first.
class LrsService::Stream final : public grpclb::ClientRegistry::Client,
                                 public std::enable_shared_from_this<Stream> {
 public:
  enum class Op { kAccept, kRead, kWrite, kFinish, kDone, kFirstMessageDeadline };
  using Tag = transport::OpTag<Stream, Op>;

  static void Accept(LrsService& service, grpc::ServerCompletionQueue* cq) {
    auto stream = std::make_shared<Stream>(service, cq);
    Stream* raw = stream.get();
    service.live_.Add();
    {
      absl::MutexLock lock(&raw->mu_);
      raw->self_ = std::move(stream);
    }
    raw->context_.AsyncNotifyWhenDone(&raw->done_tag_);
    service.service_.RequestStreamLoadStats(&raw->context_, &raw->rw_, cq, cq, &raw->accept_tag_);
  }

  Stream(LrsService& service, grpc::ServerCompletionQueue* cq) : service_(service), cq_(cq) {}

  grpclb::ClientInfo Describe() const override {
    grpclb::ClientInfo info;
    info.peer = peer_;
    absl::MutexLock lock(&mu_);
    info.load = total_;
    info.rates = total_.RatesAt(service_.options_.clock->Now());
    return info;
  }
  void Drain() override {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "jawlb is shutting down"));
  }

  // `op` completed with `ok` (a completion-queue thread).
  void OnEvent(Op op, bool ok) {
    switch (op) {
      case Op::kAccept:
        if (!ok) {
          std::shared_ptr<Stream> self;
          {
            absl::MutexLock lock(&mu_);
            self = std::move(self_);
          }
          service_.live_.Done();
          return;
        }
        Accept(service_, cq_);
        Start();
        break;
      case Op::kRead:
        OnRead(ok);
        break;
      case Op::kWrite: {
        absl::MutexLock lock(&mu_);
        write_in_flight_ = false;
        break;
      }
      case Op::kFinish: {
        absl::MutexLock lock(&mu_);
        finish_done_ = true;
        break;
      }
      case Op::kDone: {
        {
          absl::MutexLock lock(&mu_);
          call_done_ = true;
        }
        first_message_.Met();  // or never will: the alarm's tag comes back at once
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        break;
      }
      case Op::kFirstMessageDeadline:
        if (first_message_.Fired(ok)) {
          Finish(grpc::Status(
              grpc::StatusCode::DEADLINE_EXCEEDED,
              absl::StrCat("no LoadStatsRequest within ",
                           absl::FormatDuration(service_.options_.first_message_timeout),
                           " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
        }
        break;
    }
    MaybeRelease();
  }

 private:
  struct Cluster {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    balancer::ClientLoad load;
  };

  void Start() {
    peer_ = transport::ConnectionListener::PeerOf(context_.peer());
    if (service_.options_.limits != nullptr) {
      if (absl::Status admitted = service_.options_.limits->Admit(peer_); !admitted.ok()) {
        Finish(grpclb::ToGrpcStatus(admitted));
        return;
      }
    }
    auto registration = service_.streams_.Register(shared_from_this());
    {
      absl::MutexLock lock(&mu_);
      admitted_ = service_.options_.limits != nullptr;
      registration_ = std::move(registration);
      read_in_flight_ = true;
    }
    first_message_.Set(cq_, service_.options_.first_message_timeout, &deadline_tag_);
    rw_.Read(&request_, &read_tag_);
    if (service_.draining_.load(std::memory_order_acquire)) Drain();
  }

  void OnRead(bool ok) {
    bool respond = false;
    {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = false;
      if (!ok || finish_called_) return;
      respond = !responded_;
      responded_ = true;
    }
    first_message_.Met();
    Record(request_);
    if (respond) {
      // Every cluster, at the configured interval.
      response_.set_send_all_clusters(true);
      response_.mutable_load_reporting_interval()->set_seconds(
          absl::ToInt64Seconds(service_.options_.interval));
      {
        absl::MutexLock lock(&mu_);
        if (finish_called_) return;
        write_in_flight_ = true;
      }
      rw_.Write(response_, &write_tag_);
    }
    {
      absl::MutexLock lock(&mu_);
      if (finish_called_) return;
      read_in_flight_ = true;
    }
    rw_.Read(&request_, &read_tag_);
  }

  // Each cluster's report, to its unit's shedding (and subset policy); all
  // of them together, to the client's total.
  void Record(const LoadStatsRequest& request) {
    const absl::Time now = service_.options_.clock->Now();
    if (request.cluster_stats_size() > 0) {
      balancer::LoadReport sum;
      for (const auto& stats : request.cluster_stats()) {
        const balancer::LoadReport report = ToLoadReport(stats);
        sum.calls_started =
            SaturatingAdd(sum.calls_started, static_cast<uint64_t>(report.calls_started));
        sum.calls_finished =
            SaturatingAdd(sum.calls_finished, static_cast<uint64_t>(report.calls_finished));
        sum.calls_known_received = SaturatingAdd(
            sum.calls_known_received, static_cast<uint64_t>(report.calls_known_received));
        sum.drops.insert(sum.drops.end(), report.drops.begin(), report.drops.end());
      }
      absl::MutexLock lock(&mu_);
      (void)total_.Add(sum, now);  // nonsense is counted per cluster below
    }
    for (const auto& stats : request.cluster_stats()) {
      Cluster* cluster = nullptr;
      {
        absl::MutexLock lock(&mu_);
        auto it = clusters_.find(stats.cluster_name());
        if (it == clusters_.end() && clusters_.size() < kMaxClusters) {
          std::shared_ptr<grpclb::ServiceUnit> unit = service_.lookup_(stats.cluster_name());
          if (unit != nullptr) {
            it = clusters_
                     .emplace(stats.cluster_name(),
                              Cluster{std::move(unit),
                                      balancer::ClientLoad(now, service_.options_.smoothing)})
                     .first;
          }
        }
        if (it != clusters_.end()) cluster = &it->second;
      }
      if (cluster == nullptr) continue;  // not a cluster of ours (any more)
      const absl::Status added = cluster->load.Add(ToLoadReport(stats), now);
      service_.reports_.Add({added.ok() ? "accepted" : "rejected"});
      if (!added.ok()) continue;
      if (cluster->unit->shedding().enabled()) {
        cluster->unit->shedding().Report(cluster, cluster->load);
      }
      // With subsetting, the client's ADS stream(s) of this cluster: their
      // share of the request load.
      if (cluster->unit->policy().enabled()) {
        cluster->unit->policy().ReportByKey(
            SubsetKey(transport::PeerAddress(peer_), stats.cluster_name()),
            cluster->load.RatesAt(now).started);
      }
    }
  }

  void Finish(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finish_called_ || write_in_flight_) {
        if (!finish_called_) pending_finish_ = std::move(status);
        return;
      }
      finish_called_ = true;
    }
    rw_.Finish(status, &finish_tag_);
  }

  void MaybeRelease() {
    std::shared_ptr<Stream> self;
    std::map<std::string, Cluster> clusters;
    std::unique_ptr<grpclb::ClientRegistry::Registration> registration;
    bool admitted = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_called_ && !write_in_flight_ && pending_finish_.has_value()) {
        finish = std::move(pending_finish_);
        pending_finish_.reset();
      }
    }
    if (finish.has_value()) Finish(*std::move(finish));
    {
      absl::MutexLock lock(&mu_);
      if (self_ == nullptr || !call_done_ || read_in_flight_ || write_in_flight_ ||
          !finish_called_ || !finish_done_ || first_message_.pending()) {
        return;
      }
      self = std::move(self_);
      clusters.swap(clusters_);
      registration = std::move(registration_);
      admitted = std::exchange(admitted_, false);
    }
    for (auto& [name, cluster] : clusters) cluster.unit->shedding().Forget(&cluster);
    if (admitted) service_.options_.limits->Release(peer_);
    service_.live_.Done();
  }

  // Clusters one stream may report on (its names come from the client).
  static constexpr size_t kMaxClusters = 1000;

  LrsService& service_;
  grpc::ServerCompletionQueue* const cq_;
  Tag accept_tag_{this, Op::kAccept};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  Tag deadline_tag_{this, Op::kFirstMessageDeadline};
  grpclb::FirstMessageDeadline first_message_;  // set in Start(), met by the first report
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<LoadStatsResponse, LoadStatsRequest> rw_{&context_};
  std::string peer_;          // set once the call arrives
  LoadStatsRequest request_;  // the read chain's
  LoadStatsResponse response_;

  mutable absl::Mutex mu_;
  std::shared_ptr<Stream> self_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Cluster> clusters_ ABSL_GUARDED_BY(mu_);
  balancer::ClientLoad total_ ABSL_GUARDED_BY(mu_);  // every cluster's reports together
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;
  bool responded_ ABSL_GUARDED_BY(mu_) = false;
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_done_ ABSL_GUARDED_BY(mu_) = false;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

LrsService::LrsService(transport::CompletionQueues& queues, ClusterLookup lookup, Options options)
    : queues_(queues), lookup_(std::move(lookup)), options_(options) {}

LrsService::~LrsService() { Stop(); }

void LrsService::Start() {
  started_ = true;
  for (size_t i = 0; i < queues_.size(); ++i) Stream::Accept(*this, queues_.queue(i));
}

void LrsService::Drain() {
  if (draining_.exchange(true)) return;
  streams_.DrainAll();
}

void LrsService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_ && !live_.WaitForNone(absl::Seconds(30))) {
    spdlog::error("LRS streams still open 30 s after the server shut down; closing anyway");
  }
}

void LrsService::WriteMetrics(metrics::TextWriter& out) const {
  out.Counters("jawlb_xds_load_reports_total",
               "Load reports (LRS, per cluster) from xDS clients: accepted, or rejected as "
               "nonsense.",
               reports_);
}

}  // namespace jawlb::xds
