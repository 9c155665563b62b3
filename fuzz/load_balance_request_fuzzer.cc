// libFuzzer target: a grpclb client's LoadBalanceRequest as jawlb reads it —
// the protobuf, the rules of the stream (ReadClientMessage: an initial
// request first, then ClientStats), and a load report's way into the
// client's smoothed rates (ClientLoad: contradictory or overflowing counts
// are refused, never wrapped). Whatever the bytes: no crash, no sanitizer
// report, and rates that are finite and not negative.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/lb/v1/load_balancer.pb.h"

#include "balancer/client_load.h"
#include "grpclb/client_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // protobuf logs every string that is not UTF-8: noise here, and slow.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  grpc::lb::v1::LoadBalanceRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const absl::Time start = absl::FromUnixSeconds(1800000000);
  for (const bool initial_received : {false, true}) {
    absl::StatusOr<jawlb::grpclb::ClientMessage> read =
        jawlb::grpclb::ReadClientMessage(request, initial_received);
    if (!read.ok() || read->kind != jawlb::grpclb::ClientMessage::Kind::kLoadReport) continue;
    jawlb::balancer::ClientLoad load(start, absl::Seconds(30));
    // The same report three times, a second apart: sums and rates move.
    for (int i = 1; i <= 3; ++i) (void)load.Add(read->report, start + absl::Seconds(i));
    const jawlb::balancer::CallRates rates = load.RatesAt(start + absl::Seconds(4));
    if (!std::isfinite(rates.started) || rates.started < 0) abort();
  }
  return 0;
}
