// Metrics: the few instrument types jawlb needs and a writer for the Prometheus
// text exposition format 0.0.4. Each component owns its instruments and writes
// them itself (`WriteMetrics(TextWriter&)`), so a metric's name, help and unit
// live next to the code that counts it; the admin server only calls the writers.
//
// Instruments cost one relaxed atomic operation per update (CounterMap: one
// short mutex hold) and allocate nothing after construction (CounterMap: once
// per new label value).
//
// Threading: Counter, Gauge, Histogram and CounterMap are thread-safe.
// TextWriter is thread-compatible (one scrape builds one).
#ifndef JAWLB_COMMON_METRICS_H_
#define JAWLB_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jawlb::metrics {

// Only goes up.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Goes up and down.
class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations counted into buckets with fixed upper bounds, in seconds.
class Histogram {
 public:
  // `bounds` ascending; an implicit +Inf bucket follows the last.
  explicit Histogram(std::vector<double> bounds);
  // Bounds for latencies from 100 µs to 10 s.
  static std::vector<double> LatencyBounds();

  void Observe(double value);
  void Observe(absl::Duration duration) { Observe(absl::ToDoubleSeconds(duration)); }

  struct Reading {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Reading Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Counters told apart by label values known only at run time (an HTTP code, a
// reason). For small, bounded label sets: each distinct value stays forever.
class CounterMap {
 public:
  using Labels = std::vector<std::string>;  // values, in the order of the names

  explicit CounterMap(std::vector<std::string> label_names)
      : label_names_(std::move(label_names)) {}

  void Add(Labels values, uint64_t n = 1) ABSL_LOCKS_EXCLUDED(mu_);
  // Every label set seen, sorted.
  std::vector<std::pair<Labels, uint64_t>> Read() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  absl::btree_map<Labels, uint64_t> values_ ABSL_GUARDED_BY(mu_);
};

// Builds one exposition (text/plain; version=0.0.4). Every metric family is
// written whole: its HELP and TYPE lines, then its samples.
class TextWriter {
 public:
  using Label = std::pair<absl::string_view, absl::string_view>;

  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

  // One-sample families.
  void Counter(absl::string_view name, absl::string_view help, double value);
  void Gauge(absl::string_view name, absl::string_view help, double value);
  void Histogram(absl::string_view name, absl::string_view help, const metrics::Histogram& h);
  // A family of counters, one sample per label set.
  void Counters(absl::string_view name, absl::string_view help, const CounterMap& counters);

  // Building blocks for families with fixed label sets: a header, then samples.
  void Header(absl::string_view name, absl::string_view type, absl::string_view help);
  void Sample(absl::string_view name, std::initializer_list<Label> labels, double value);
  void HistogramSamples(absl::string_view name, std::initializer_list<Label> labels,
                        const metrics::Histogram& h);

  const std::string& text() const { return text_; }

 private:
  void SampleLine(absl::string_view name, const std::vector<Label>& labels, double value);

  std::string text_;
};

// A float as the exposition format wants it: "+Inf", "-Inf", "NaN", a whole
// number as an integer, else the shortest text that reads back as the same
// double.
std::string FormatValue(double value);

}  // namespace jawlb::metrics

#endif  // JAWLB_COMMON_METRICS_H_
