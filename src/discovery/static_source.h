// StaticSource: a Source that delivers one fixed BackendSet (JAWLB_ENDPOINTS).
//
// Threading: thread-compatible; Start() delivers the set on the calling thread.
#ifndef JAWLB_DISCOVERY_STATIC_SOURCE_H_
#define JAWLB_DISCOVERY_STATIC_SOURCE_H_

#include "common/clock.h"
#include "discovery/source.h"

namespace jawlb::discovery {

class StaticSource final : public Source {
 public:
  explicit StaticSource(BackendSet backends) : backends_(std::move(backends)) {}

  // Source:
  absl::Status Start(OnUpdate on_update) override {
    on_update(Update{backends_, Clock::Real().Now(), absl::OkStatus()});
    return absl::OkStatus();
  }
  void Stop() override {}

 private:
  const BackendSet backends_;
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_STATIC_SOURCE_H_
