#include "grpclb/stream_limits.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"
#include "grpclb/connection_cutter.h"
#include "transport/peer.h"

namespace jawlb::grpclb {

absl::Status StreamLimits::Admit(absl::string_view peer) {
  const std::string address = transport::PeerAddress(peer);
  absl::Status refusal;
  const char* limit = nullptr;
  bool cut = false;
  int64_t suppressed = 0;
  bool log = false;
  {
    absl::MutexLock lock(&mu_);
    auto connection = per_connection_.find(peer);
    auto client = per_peer_.find(address);
    if (open_ >= options_.max_streams) {
      limit = "streams";
      refusal = absl::ResourceExhaustedError(
          absl::StrCat("jawlb holds its most streams (", options_.max_streams,
                       ", JAWLB_MAXSTREAMS): try another replica"));
    } else if (connection != per_connection_.end() &&
               connection->second >= options_.max_per_connection) {
      limit = "connection";
      cut = ShouldCut(std::string(peer), Clock::Real().Now());
      refusal = absl::ResourceExhaustedError(
          absl::StrCat("this connection has ", connection->second,
                       " streams open, the most jawlb allows (JAWLB_MAXSTREAMSPERCONNECTION)"));
    } else if (client != per_peer_.end() && client->second >= options_.max_per_peer) {
      limit = "peer";
      refusal = absl::ResourceExhaustedError(
          absl::StrCat("your address has ", client->second,
                       " streams open, the most jawlb allows (JAWLB_MAXSTREAMSPERPEER)"));
    } else {
      ++open_;
      ++per_connection_[peer];
      ++per_peer_[address];
      return absl::OkStatus();
    }
    log = log_.Allow(Clock::Real().Now(), suppressed);
  }
  refused_.Add({limit});
  if (cut) {
    // It ignored our SETTINGS (or gRPC would have stopped it): no more of its
    // frames become streams.
    absl::Status status = CutConnection(peer, server_port_.load(std::memory_order_relaxed));
    if (status.ok()) connections_cut_.Add();
    spdlog::warn(
        "client {}: opened more than {} streams on one connection, ignoring HTTP/2's "
        "SETTINGS_MAX_CONCURRENT_STREAMS: {}",
        std::string(peer), options_.max_per_connection,
        status.ok() ? "connection cut" : "could not cut it: " + status.ToString());
  }
  if (log) {
    spdlog::warn("client {}: stream refused: {}{}", std::string(peer),
                 std::string(refusal.message()),
                 suppressed > 0 ? absl::StrCat(" (and ", suppressed,
                                               " more refusals since the "
                                               "last such line)")
                                : "");
  }
  return refusal;
}

void StreamLimits::Release(absl::string_view peer) {
  const std::string address = transport::PeerAddress(peer);
  absl::MutexLock lock(&mu_);
  --open_;
  if (auto it = per_connection_.find(peer); it != per_connection_.end() && --it->second == 0) {
    per_connection_.erase(it);
  }
  if (auto it = per_peer_.find(address); it != per_peer_.end() && --it->second == 0) {
    per_peer_.erase(it);
  }
}

bool StreamLimits::ShouldCut(const std::string& connection, absl::Time now) {
  if (cut_.contains(connection)) return false;
  if (cut_.size() >= 1024) {
    absl::erase_if(cut_,
                   [now](const auto& entry) { return now - entry.second > absl::Minutes(1); });
  }
  if (cut_.size() >= 1024) return false;  // cutting in bulk: the limit still refuses
  cut_.emplace(connection, now);
  return true;
}

size_t StreamLimits::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

void StreamLimits::WriteMetrics(metrics::TextWriter& out) const {
  out.Counters("jawlb_streams_refused_total",
               "BalanceLoad streams refused with RESOURCE_EXHAUSTED, by the limit they hit "
               "(streams: JAWLB_MAXSTREAMS, connection: JAWLB_MAXSTREAMSPERCONNECTION, peer: "
               "JAWLB_MAXSTREAMSPERPEER).",
               refused_);
  out.Counter("jawlb_connections_cut_total",
              "Client connections shut down for opening more streams than "
              "JAWLB_MAXSTREAMSPERCONNECTION (ignoring HTTP/2's stream limit).",
              static_cast<double>(connections_cut_.value()));
  out.Gauge("jawlb_streams_limit", "JAWLB_MAXSTREAMS: streams held at once at most.",
            static_cast<double>(options_.max_streams));
}

}  // namespace jawlb::grpclb
