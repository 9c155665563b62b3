#include "xds/lrs_service.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/duration.pb.h"

#include "balancer/client_load.h"
#include "envoy/service/load_stats/v3/lrs.pb.h"
#include "transport/grpc_message.h"
#include "transport/peer.h"
#include "xds/load_reports.h"

namespace jawlb::xds {
namespace {

using envoy::service::load_stats::v3::LoadStatsRequest;
using envoy::service::load_stats::v3::LoadStatsResponse;

}  // namespace

// One client's LRS stream: reads its reports, answers the first. Its
// callbacks run serialized on its call; Describe() and Drain() come from other
// threads.
class LrsService::Call final : public transport::ServerCall::Handler,
                               public grpclb::ClientRegistry::Client,
                               public std::enable_shared_from_this<Call> {
 public:
  Call(LrsService& service, const std::shared_ptr<transport::ServerCall>& call)
      : service_(service),
        weak_call_(call),
        call_(call),
        peer_(call->peer()),
        total_(service.options_.clock->Now(), service.options_.smoothing) {}

  void Begin() {
    if (service_.options_.limits != nullptr) {
      if (absl::Status admitted = service_.options_.limits->Admit(peer_); !admitted.ok()) {
        call_->Finish(admitted);
        return;
      }
      admitted_ = true;
    }
    registration_ = service_.streams_.Register(shared_from_this());
    std::weak_ptr<Call> weak = weak_from_this();
    call_->RunAfter(service_.options_.first_message_timeout, [weak] {
      std::shared_ptr<Call> self = weak.lock();
      if (self == nullptr || self->call_ == nullptr || self->reported_) return;
      self->call_->Finish(absl::DeadlineExceededError(
          absl::StrCat("no LoadStatsRequest within ",
                       absl::FormatDuration(self->service_.options_.first_message_timeout),
                       " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
    });
    if (service_.draining_.load(std::memory_order_acquire)) Drain();
  }

  // transport::ServerCall::Handler:
  void OnMessage(std::string message) override {
    if (call_ == nullptr) return;
    reported_ = true;
    LoadStatsRequest request;
    if (!request.ParseFromString(message)) {
      call_->Finish(
          absl::InvalidArgumentError("malformed LoadStatsRequest: not a valid protobuf message"));
      return;
    }
    Record(request);
    // The first answer asks for every cluster, at the configured interval.
    if (!responded_) {
      responded_ = true;
      call_->Write(service_.response_);
    }
  }
  void OnHalfClose() override {}  // the reports end; the stream stays until cancelled
  void OnWriteDone(bool /*ok*/) override {}
  void OnDone(bool /*cancelled*/) override {
    for (auto& [name, cluster] : clusters_) cluster.unit->shedding().Forget(&cluster);
    clusters_.clear();
    if (admitted_) service_.options_.limits->Release(peer_);
    admitted_ = false;
    registration_.reset();
    call_.reset();
  }

  // grpclb::ClientRegistry::Client:
  grpclb::ClientInfo Describe() const override {
    grpclb::ClientInfo info;
    info.peer = peer_;
    absl::MutexLock lock(&total_mu_);
    info.load = total_;
    info.rates = total_.RatesAt(service_.options_.clock->Now());
    return info;
  }
  void Drain() override {
    if (std::shared_ptr<transport::ServerCall> call = weak_call_.lock()) {
      call->Finish(absl::UnavailableError("jawlb is shutting down"));
    }
  }

 private:
  struct Cluster {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    balancer::ClientLoad load;
  };

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
      absl::MutexLock lock(&total_mu_);
      (void)total_.Add(sum, now);  // nonsense is counted per cluster below
    }
    for (const auto& stats : request.cluster_stats()) {
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
      if (it == clusters_.end()) continue;  // not a cluster of ours (any more)
      Cluster& cluster = it->second;
      const absl::Status added = cluster.load.Add(ToLoadReport(stats), now);
      service_.reports_.Add({added.ok() ? "accepted" : "rejected"});
      if (!added.ok()) continue;
      if (cluster.unit->shedding().enabled()) {
        cluster.unit->shedding().Report(&cluster, cluster.load);
      }
      // With subsetting, the client's ADS stream(s) of this cluster: their
      // share of the request load.
      if (cluster.unit->policy().enabled()) {
        cluster.unit->policy().ReportByKey(
            SubsetKey(transport::PeerAddress(peer_), stats.cluster_name()),
            cluster.load.RatesAt(now).started);
      }
    }
  }

  // Clusters one stream may report on (its names come from the client).
  static constexpr size_t kMaxClusters = 1000;

  LrsService& service_;
  const std::weak_ptr<transport::ServerCall> weak_call_;  // for other threads
  // The call's context's.
  std::shared_ptr<transport::ServerCall> call_;  // null once it is over
  const std::string peer_;
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration_;
  std::map<std::string, Cluster> clusters_;
  bool admitted_ = false;
  bool reported_ = false;
  bool responded_ = false;

  mutable absl::Mutex total_mu_;
  balancer::ClientLoad total_ ABSL_GUARDED_BY(total_mu_);  // every cluster's reports together
};

LrsService::LrsService(ClusterLookup lookup, Options options)
    : lookup_(std::move(lookup)), options_(options), response_([&] {
        LoadStatsResponse response;
        response.set_send_all_clusters(true);
        response.mutable_load_reporting_interval()->set_seconds(
            absl::ToInt64Seconds(options.interval));
        return std::make_shared<const std::string>(
            transport::FrameMessage(response.SerializeAsString()));
      }()) {}

transport::MethodHandler LrsService::Handler() {
  return [this](const std::shared_ptr<transport::ServerCall>& call) {
    auto handler = std::make_shared<Call>(*this, call);
    call->Start(handler);
    handler->Begin();
  };
}

void LrsService::Drain() {
  if (draining_.exchange(true)) return;
  streams_.DrainAll();
}

void LrsService::WriteMetrics(metrics::TextWriter& out) const {
  out.Counters("jawlb_xds_load_reports_total",
               "Load reports (LRS, per cluster) from xDS clients: accepted, or rejected as "
               "nonsense.",
               reports_);
}

}  // namespace jawlb::xds
