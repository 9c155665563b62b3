#include "config/values.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

#include "common/dns_label.h"
#include "config/config.h"

namespace jawlb::config {

absl::Status SetPort(absl::string_view text, uint16_t& out) {
  int port = 0;
  if (!absl::SimpleAtoi(text, &port) || port < 0 || port > 65535) {
    return Invalid("not a port number (0-65535)");
  }
  out = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

absl::Status SetCount(absl::string_view text, size_t& out) {
  int count = 0;
  if (!absl::SimpleAtoi(text, &count) || count < 0 || count > 100000) {
    return Invalid("not a count (0-100000)");
  }
  out = static_cast<size_t>(count);
  return absl::OkStatus();
}

absl::Status SetCountIn(absl::string_view text, size_t min, size_t max, size_t& out) {
  int64_t count = 0;
  if (!absl::SimpleAtoi(text, &count) || count < static_cast<int64_t>(min) ||
      count > static_cast<int64_t>(max)) {
    return Invalid(absl::StrCat("not a count from ", min, " to ", max));
  }
  out = static_cast<size_t>(count);
  return absl::OkStatus();
}

// A duration within [min, max], or 0 when `zero_ok` (the setting's "never" or
// "at once"). Every duration has a range: gRPC takes some as int milliseconds,
// and a value past its range would silently mean something else.
absl::Status SetDurationIn(absl::string_view text, absl::Duration min, absl::Duration max,
                           bool zero_ok, absl::Duration& out) {
  absl::StatusOr<absl::Duration> duration = ParseGoDuration(text);
  if (!duration.ok()) return duration.status();
  if (zero_ok && *duration == absl::ZeroDuration()) {
    out = *duration;
    return absl::OkStatus();
  }
  if (*duration < min || *duration > max) {
    if (min == absl::ZeroDuration()) return Invalid("must be at most " + absl::FormatDuration(max));
    return Invalid(absl::StrCat(zero_ok ? "must be 0 or " : "must be ", "from ",
                                absl::FormatDuration(min), " to ", absl::FormatDuration(max)));
  }
  out = *duration;
  return absl::OkStatus();
}

// Durations an operator may mean in hours (grace periods, ages, timeouts).
absl::Status SetDuration(absl::string_view text, absl::Duration& out) {
  return SetDurationIn(text, absl::ZeroDuration(), absl::Hours(100), true, out);
}

absl::Status SetHost(absl::string_view text, std::string& out) {
  if (!text.empty()) {
    const std::string host(text);
    unsigned char bytes[16];
    if (inet_pton(AF_INET, host.c_str(), bytes) != 1 &&
        inet_pton(AF_INET6, host.c_str(), bytes) != 1) {
      return Invalid("not an IP address to listen on (use \"\" for all interfaces)");
    }
  }
  out = std::string(text);
  return absl::OkStatus();
}

absl::Status SetLogLevel(absl::string_view text, std::string& out) {
  static constexpr const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  for (const char* level : kLevels) {
    if (text == level) {
      out = level;
      return absl::OkStatus();
    }
  }
  return Invalid("not a log level (trace, debug, info, warn, error, off)");
}

absl::Status SetOnOff(absl::string_view text, bool& out) {
  if (text != "on" && text != "off") return Invalid("not on or off");
  out = text == "on";
  return absl::OkStatus();
}

absl::Status SetString(absl::string_view text, std::string& out) {
  out = std::string(text);
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text) {
  absl::Duration duration;
  if (text.empty() || absl::StrContains(text, "inf") || !absl::ParseDuration(text, &duration)) {
    return absl::InvalidArgumentError(
        "not a duration (Go syntax, for example \"25s\", \"1m30s\", \"500ms\")");
  }
  if (duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("must not be negative");
  }
  return duration;
}

}  // namespace jawlb::config
