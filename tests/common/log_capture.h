// LogCapture: what jawlb's code logs (spdlog's default logger) while it lives,
// so a test can wait for a component to say it saw something — the way to know
// a poller looked at a state without sleeping. Restores the logger when it goes.
//
// Threading: thread-safe (the sink has a mutex).
#ifndef JAWLB_TESTS_COMMON_LOG_CAPTURE_H_
#define JAWLB_TESTS_COMMON_LOG_CAPTURE_H_

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

#include "tests/common/eventually.h"

namespace jawlb::testing {

class LogCapture {
 public:
  LogCapture()
      : previous_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  // How many lines logged so far contain `text`.
  int Count(const std::string& text) const {
    int count = 0;
    for (const std::string& line : sink_->last_formatted()) {
      count += absl::StrContains(line, text) ? 1 : 0;
    }
    return count;
  }
  // True once a line containing `text` was logged (false after `timeout`).
  bool WaitFor(const std::string& text, absl::Duration timeout = absl::Seconds(60)) const {
    return Eventually([&] { return Count(text) > 0; }, timeout);
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

}  // namespace jawlb::testing

#endif  // JAWLB_TESTS_COMMON_LOG_CAPTURE_H_
