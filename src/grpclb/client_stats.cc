#include "grpclb/client_stats.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace jawlb::grpclb {
namespace {

// No client makes a trillion calls between two reports; beyond this a count is
// corrupt, and summing it could overflow.
constexpr int64_t kMaxCallsPerReport = int64_t{1} << 40;

absl::Status CheckCount(absl::string_view field, int64_t value) {
  if (value < 0 || value > kMaxCallsPerReport) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientStats.", field, "=", value, " is out of range"));
  }
  return absl::OkStatus();
}

// Totals saturate instead of overflowing, however long a stream lives.
void AddTo(int64_t& total, int64_t value) {
  total = value > std::numeric_limits<int64_t>::max() - total ? std::numeric_limits<int64_t>::max()
                                                              : total + value;
}

}  // namespace

absl::Status ClientLoad::Add(const grpc::lb::v1::ClientStats& stats, absl::Time now) {
  absl::Status status = CheckCount("num_calls_started", stats.num_calls_started());
  status.Update(CheckCount("num_calls_finished", stats.num_calls_finished()));
  status.Update(CheckCount("num_calls_finished_with_client_failed_to_send",
                           stats.num_calls_finished_with_client_failed_to_send()));
  status.Update(
      CheckCount("num_calls_finished_known_received", stats.num_calls_finished_known_received()));
  int64_t dropped = 0;
  for (const grpc::lb::v1::ClientStatsPerToken& per_token : stats.calls_finished_with_drop()) {
    status.Update(CheckCount("calls_finished_with_drop.num_calls", per_token.num_calls()));
    if (status.ok()) dropped += per_token.num_calls();
  }
  status.Update(CheckCount("calls_finished_with_drop (sum)", dropped));
  if (!status.ok()) {
    ++rejected_reports;
    return status;
  }
  ++reports;
  AddTo(calls_started, stats.num_calls_started());
  AddTo(calls_finished, stats.num_calls_finished());
  AddTo(calls_failed_to_send, stats.num_calls_finished_with_client_failed_to_send());
  AddTo(calls_known_received, stats.num_calls_finished_known_received());
  AddTo(calls_dropped, dropped);
  last_report = now;
  return absl::OkStatus();
}

}  // namespace jawlb::grpclb
