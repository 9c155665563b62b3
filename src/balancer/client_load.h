// ClientLoad: what one client reports about its calls (grpclb ClientStats), as
// totals and as smoothed per-second rates for the balancing policy.
//
// Reports are deltas since the client's previous report. Each becomes a rate
// over the time since the previous report (as jawlb received them: clients'
// clocks are not trusted for intervals), folded into an exponentially weighted
// average with time constant `smoothing`. Rates decay toward zero once reports
// stop: a client that stops reporting has no known load.
//
// Nonsense never skews anything: a report with a negative count, a count no
// client could make in its interval, counts that contradict each other (more
// finished than started and still open, more dropped or failed than
// finished), or a timestamp far in the future or more than a day old is
// rejected whole (counted, and named in the error). Drop counts are kept per
// load_balance_token for at most kMaxTokens tokens; the rest are summed under
// "(other)".
//
// Threading: a value type; thread-compatible. Pure: time is passed in.
#ifndef JAWLB_BALANCER_CLIENT_LOAD_H_
#define JAWLB_BALANCER_CLIENT_LOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace jawlb::balancer {

// One ClientStats message, decoded.
struct LoadReport {
  std::optional<absl::Time> sent;  // the client's timestamp, when it gave one
  int64_t calls_started = 0;
  int64_t calls_finished = 0;
  int64_t calls_failed_to_send = 0;
  int64_t calls_known_received = 0;
  std::vector<std::pair<std::string, int64_t>> drops;  // by load_balance_token
};

// Calls per second.
struct CallRates {
  double started = 0;
  double finished = 0;
  double failed_to_send = 0;
  double known_received = 0;
  double dropped = 0;
};

class ClientLoad {
 public:
  static constexpr size_t kMaxTokens = 16;
  static constexpr char kOtherToken[] = "(other)";

  // `connected`: when the stream began (the first report's interval starts
  // there).
  explicit ClientLoad(absl::Time connected = absl::InfinitePast(),
                      absl::Duration smoothing = absl::Seconds(30));

  // Adds a report received at `now`. InvalidArgument (and nothing added, the
  // report counted as rejected) for nonsense, naming the field.
  absl::Status Add(const LoadReport& report, absl::Time now);

  // The smoothed rates as of `now`.
  CallRates RatesAt(absl::Time now) const;

  // Totals of the accepted reports (saturating).
  struct Totals {
    int64_t reports = 0;
    int64_t rejected_reports = 0;
    int64_t calls_started = 0;
    int64_t calls_finished = 0;
    int64_t calls_failed_to_send = 0;
    int64_t calls_known_received = 0;
    int64_t calls_dropped = 0;
  };
  const Totals& totals() const { return totals_; }
  const absl::btree_map<std::string, int64_t>& drops_by_token() const { return drops_; }
  // When the last accepted report arrived; InfinitePast() before any.
  absl::Time last_report() const { return last_report_; }

 private:
  // Whether the report's counts agree with each other and with the calls
  // still open; InvalidArgument naming the fields when not.
  absl::Status CheckConsistent(const LoadReport& report, int64_t dropped) const;

  absl::Duration smoothing_;
  absl::Time connected_;
  absl::Time last_report_ = absl::InfinitePast();
  CallRates rates_;
  Totals totals_;
  absl::btree_map<std::string, int64_t> drops_;
};

}  // namespace jawlb::balancer

#endif  // JAWLB_BALANCER_CLIENT_LOAD_H_
