// libFuzzer target: an xDS client's LRS report (LoadStatsRequest) as jawlb
// reads it: each ClusterStats through ToLoadReport (uint64 counts summed
// without overflow) into a client's smoothed rates (ClientLoad refuses
// contradictory counts). Whatever the bytes: no crash, no sanitizer report
// (UBSan would see an overflow), rates finite and not negative.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"

#include "balancer/client_load.h"
#include "envoy/service/load_stats/v3/lrs.pb.h"
#include "xds/load_reports.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // protobuf logs every string that is not UTF-8: noise here, and slow.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  envoy::service::load_stats::v3::LoadStatsRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const absl::Time start = absl::FromUnixSeconds(1800000000);
  for (const auto& stats : request.cluster_stats()) {
    const jawlb::balancer::LoadReport report = jawlb::xds::ToLoadReport(stats);
    if (report.calls_started < 0 || report.calls_finished < 0) abort();
    jawlb::balancer::ClientLoad load(start, absl::Seconds(30));
    for (int i = 1; i <= 3; ++i) (void)load.Add(report, start + absl::Seconds(i));
    const jawlb::balancer::CallRates rates = load.RatesAt(start + absl::Seconds(4));
    if (!std::isfinite(rates.started) || rates.started < 0) abort();
  }
  return 0;
}
