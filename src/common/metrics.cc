#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace jawlb::metrics {
namespace {

// HELP text escapes backslash and newline; label values also the double quote.
void AppendEscaped(std::string& out, absl::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers (counts, bytes) as integers; others the shortest way, fixed
  // where %g would be ("0.0001", not "1e-04").
  if (std::abs(value) < 0x1p53 && value == std::trunc(value)) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::general);
  return std::string(buffer, result.ptr);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

std::vector<double> Histogram::LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

void Histogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Reading Histogram::Read() const {
  Reading reading;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    reading.cumulative.push_back(total);
  }
  reading.count = total;
  reading.sum = sum_.load(std::memory_order_relaxed);
  return reading;
}

void CounterMap::Add(Labels values, uint64_t n) {
  absl::MutexLock lock(&mu_);
  values_[std::move(values)] += n;
}

std::vector<std::pair<CounterMap::Labels, uint64_t>> CounterMap::Read() const {
  absl::MutexLock lock(&mu_);
  return {values_.begin(), values_.end()};
}

void TextWriter::Header(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&text_, "# HELP ", name, " ");
  AppendEscaped(text_, help, /*quote=*/false);
  absl::StrAppend(&text_, "\n# TYPE ", name, " ", type, "\n");
}

void TextWriter::SampleLine(absl::string_view name, const std::vector<Label>& labels,
                            double value) {
  text_.append(name.data(), name.size());
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      absl::StrAppend(&text_, labels[i].first, "=\"");
      AppendEscaped(text_, labels[i].second, /*quote=*/true);
      text_ += '"';
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", FormatValue(value), "\n");
}

void TextWriter::Sample(absl::string_view name, std::initializer_list<Label> labels, double value) {
  SampleLine(name, std::vector<Label>(labels), value);
}

void TextWriter::Counter(absl::string_view name, absl::string_view help, double value) {
  Header(name, "counter", help);
  SampleLine(name, {}, value);
}

void TextWriter::Gauge(absl::string_view name, absl::string_view help, double value) {
  Header(name, "gauge", help);
  SampleLine(name, {}, value);
}

void TextWriter::Histogram(absl::string_view name, absl::string_view help,
                           const metrics::Histogram& h) {
  Header(name, "histogram", help);
  HistogramSamples(name, {}, h);
}

void TextWriter::HistogramSamples(absl::string_view name, std::initializer_list<Label> labels,
                                  const metrics::Histogram& h) {
  const metrics::Histogram::Reading reading = h.Read();
  const std::string bucket = absl::StrCat(name, "_bucket");
  for (size_t i = 0; i <= h.bounds().size(); ++i) {
    const std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
    std::vector<Label> with_le(labels);
    with_le.emplace_back("le", le);
    SampleLine(bucket, with_le, static_cast<double>(reading.cumulative[i]));
  }
  SampleLine(absl::StrCat(name, "_sum"), std::vector<Label>(labels), reading.sum);
  SampleLine(absl::StrCat(name, "_count"), std::vector<Label>(labels),
             static_cast<double>(reading.count));
}

void TextWriter::Counters(absl::string_view name, absl::string_view help,
                          const CounterMap& counters) {
  Header(name, "counter", help);
  for (const auto& [values, count] : counters.Read()) {
    std::vector<Label> labels;
    for (size_t i = 0; i < values.size() && i < counters.label_names().size(); ++i) {
      labels.emplace_back(counters.label_names()[i], values[i]);
    }
    SampleLine(name, labels, static_cast<double>(count));
  }
}

}  // namespace jawlb::metrics
