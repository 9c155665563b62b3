// FakeSource: a Source the test drives. Deliver() hands an update to whoever
// started it, on the test's thread; `started`/`stopped` say what was done to
// it.
#ifndef JAWLB_TESTS_FAKES_FAKE_SOURCE_H_
#define JAWLB_TESTS_FAKES_FAKE_SOURCE_H_

#include <atomic>
#include <functional>
#include <utility>

#include "discovery/source.h"

namespace jawlb::discovery {

class FakeSource final : public Source {
 public:
  // `on_start`: runs inside Start() (null: nothing).
  explicit FakeSource(std::function<void()> on_start = nullptr) : on_start_(std::move(on_start)) {}

  absl::Status Start(OnUpdate on_update) override {
    on_update_ = std::move(on_update);
    started = true;
    if (on_start_ != nullptr) on_start_();
    return absl::OkStatus();
  }
  void Stop() override { stopped = true; }

  // REQUIRES: started.
  void Deliver(BackendSet backends, absl::Status status = absl::OkStatus()) {
    on_update_(Update{std::move(backends), absl::Now(), std::move(status)});
  }

  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};

 private:
  const std::function<void()> on_start_;
  OnUpdate on_update_;
};

}  // namespace jawlb::discovery

#endif  // JAWLB_TESTS_FAKES_FAKE_SOURCE_H_
