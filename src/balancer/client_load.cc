#include "balancer/client_load.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace jawlb::balancer {
namespace {

// No client makes more calls than this per second (10 million); a report
// implying more is corrupt.
constexpr double kMaxCallsPerSecond = 1e7;
// A report's interval is at least this long, so two reports arriving together
// do not make an absurd rate out of a normal count.
constexpr absl::Duration kMinInterval = absl::Seconds(1);
// How far in the future a client's timestamp may be (clock skew) before the
// report is taken for nonsense.
constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
// How old a client's timestamp may be: a clock this far behind (year 1, say)
// is broken, and so is what it reports.
constexpr absl::Duration kMaxAge = absl::Hours(24);
// How many calls a report may count at one end of a call but not the other
// (at least; a tenth of the calls otherwise): see CheckConsistent().
constexpr int64_t kRaceSlack = 100;

absl::Status CheckCount(const char* field, int64_t value, double interval_seconds) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientStats.", field, "=", value, " is negative"));
  }
  if (static_cast<double>(value) > kMaxCallsPerSecond * interval_seconds) {
    return absl::InvalidArgumentError(absl::StrCat("ClientStats.", field, "=", value,
                                                   " is more than any client makes in ",
                                                   interval_seconds, " s"));
  }
  return absl::OkStatus();
}

void AddTo(int64_t& total, int64_t value) {
  total = value > std::numeric_limits<int64_t>::max() - total ? std::numeric_limits<int64_t>::max()
                                                              : total + value;
}

}  // namespace

ClientLoad::ClientLoad(absl::Time connected, absl::Duration smoothing)
    : smoothing_(smoothing), connected_(connected) {}

absl::Status ClientLoad::Add(const LoadReport& report, absl::Time now) {
  const absl::Time since = last_report_ != absl::InfinitePast() ? last_report_
                           : connected_ != absl::InfinitePast() ? connected_
                                                                : now - kMinInterval;
  const absl::Duration interval = std::max(now - since, kMinInterval);
  const double seconds = absl::ToDoubleSeconds(interval);
  absl::Status status;
  if (report.sent.has_value() && *report.sent > now + kMaxClockSkew) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "ClientStats.timestamp is ", absl::FormatDuration(*report.sent - now), " in the future"));
  }
  if (report.sent.has_value() && *report.sent < now - kMaxAge) {
    status = absl::InvalidArgumentError(
        absl::StrCat("ClientStats.timestamp ", absl::FormatTime(*report.sent, absl::UTCTimeZone()),
                     " is more than a day old"));
  }
  status.Update(CheckCount("num_calls_started", report.calls_started, seconds));
  status.Update(CheckCount("num_calls_finished", report.calls_finished, seconds));
  status.Update(CheckCount("num_calls_finished_with_client_failed_to_send",
                           report.calls_failed_to_send, seconds));
  status.Update(
      CheckCount("num_calls_finished_known_received", report.calls_known_received, seconds));
  int64_t dropped = 0;
  for (const auto& [token, calls] : report.drops) {
    status.Update(CheckCount("calls_finished_with_drop.num_calls", calls, seconds));
    if (status.ok() && __builtin_add_overflow(dropped, calls, &dropped)) {
      status = absl::InvalidArgumentError("ClientStats.calls_finished_with_drop: sum overflows");
    }
  }
  if (status.ok()) status = CheckCount("calls_finished_with_drop (sum)", dropped, seconds);
  if (status.ok()) status = CheckConsistent(report, dropped);
  if (!status.ok()) {
    ++totals_.rejected_reports;
    return status;
  }

  // Fold this interval's rates into the average: the longer the interval, the
  // more it weighs (w = 1 - e^(-interval/smoothing)), so a report after a long
  // silence mostly replaces what was known.
  const double weight = 1 - std::exp(-seconds / absl::ToDoubleSeconds(smoothing_));
  auto fold = [weight, seconds](double& rate, int64_t count) {
    rate += weight * (static_cast<double>(count) / seconds - rate);
  };
  fold(rates_.started, report.calls_started);
  fold(rates_.finished, report.calls_finished);
  fold(rates_.failed_to_send, report.calls_failed_to_send);
  fold(rates_.known_received, report.calls_known_received);
  fold(rates_.dropped, dropped);

  ++totals_.reports;
  AddTo(totals_.calls_started, report.calls_started);
  AddTo(totals_.calls_finished, report.calls_finished);
  AddTo(totals_.calls_failed_to_send, report.calls_failed_to_send);
  AddTo(totals_.calls_known_received, report.calls_known_received);
  AddTo(totals_.calls_dropped, dropped);
  for (const auto& [token, calls] : report.drops) {
    const bool known = drops_.contains(token) || drops_.size() < kMaxTokens;
    AddTo(drops_[known ? token : std::string(kOtherToken)], calls);
  }
  last_report_ = now;
  return absl::OkStatus();
}

absl::Status ClientLoad::CheckConsistent(const LoadReport& report, int64_t dropped) const {
  // Clients read and reset their counters one at a time while calls go on, so
  // a report may count a call's end but not its start (the next one does):
  // only what no such race explains is nonsense.
  const auto slack = [](int64_t count) { return std::max<int64_t>(kRaceSlack, count / 10); };
  // A call finishes after it starts, perhaps in a later report: what finishes
  // now is at most what started now plus what was still open. C-core, grpc-go
  // and grpc-java count a drop as started and finished at once, and a call
  // finished without sending or known received as finished too.
  const int64_t open = std::max<int64_t>(totals_.calls_started - totals_.calls_finished, 0);
  if (report.calls_finished > report.calls_started + open + slack(report.calls_started)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientStats.num_calls_finished=", report.calls_finished, " is more than the ",
                     report.calls_started, " calls started in this report and the ", open,
                     " still open before it"));
  }
  const int64_t subsets = report.calls_failed_to_send + report.calls_known_received;
  if (subsets > report.calls_finished + slack(report.calls_finished)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClientStats: num_calls_finished_with_client_failed_to_send (", report.calls_failed_to_send,
        ") + num_calls_finished_known_received (", report.calls_known_received,
        ") exceed num_calls_finished (", report.calls_finished, ")"));
  }
  if (dropped > report.calls_finished + slack(report.calls_finished)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientStats: ", dropped, " calls dropped but only ", report.calls_finished,
                     " finished (a drop counts as a finished call)"));
  }
  return absl::OkStatus();
}

CallRates ClientLoad::RatesAt(absl::Time now) const {
  if (last_report_ == absl::InfinitePast()) return rates_;
  // Silence longer than the smoothing time means the client no longer reports:
  // what it last said fades with the same time constant.
  const absl::Duration silent = now - last_report_ - smoothing_;
  if (silent <= absl::ZeroDuration()) return rates_;
  const double keep = std::exp(-absl::ToDoubleSeconds(silent) / absl::ToDoubleSeconds(smoothing_));
  CallRates rates = rates_;
  for (double* rate : {&rates.started, &rates.finished, &rates.failed_to_send,
                       &rates.known_received, &rates.dropped}) {
    *rate *= keep;
  }
  return rates;
}

}  // namespace jawlb::balancer
