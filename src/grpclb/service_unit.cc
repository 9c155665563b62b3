#include "grpclb/service_unit.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace jawlb::grpclb {

ServiceUnit::ServiceUnit(Options options, std::unique_ptr<discovery::Source> source)
    : options_(std::move(options)),
      source_(std::move(source)),
      hub_(options_.shards, options_.token_prefix),
      policy_(options_.max_servers, options_.replan_every, *options_.clock),
      shedding_(options_.max_rps_per_backend, hub_, options_.shed_every, *options_.clock) {
  hub_.SetMaxListBytes(options_.max_list_bytes);
}

ServiceUnit::~ServiceUnit() { Stop(); }

absl::Status ServiceUnit::Start(Hub::WakeRunner runner) {
  absl::MutexLock lock(&lifecycle_mu_);
  if (stopped_) return absl::UnavailableError(absl::StrCat("service ", key(), ": stopped"));
  if (started_) return absl::FailedPreconditionError("started twice");
  started_ = true;
  hub_.SetWakeRunner(std::move(runner));
  return source_->Start([this](discovery::Update update) { Publish(std::move(update)); });
}

void ServiceUnit::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  source_->Stop();              // no update after this
  hub_.SetWakeRunner(nullptr);  // waits for the wakes already handed out
}

std::optional<ServiceUnit::Health> ServiceUnit::health() const {
  if (options_.health == nullptr) return std::nullopt;
  const health::HealthChecker* checker = options_.health->checker();
  if (checker == nullptr) return Health{};  // not started: no list yet
  return Health{checker->failing(), checker->panic()};
}

void ServiceUnit::Publish(discovery::Update update) {
  absl::MutexLock lock(&publish_mu_);
  if (!update.status.ok()) {
    // Its clients are told why; a directory forgets such a unit soon, so a
    // Service created later is found.
    spdlog::warn("service {}: {}: its clients get the error", key(), update.status.ToString());
    hub_.Close(std::move(update.status));
    return;
  }
  discovery::BackendSet backends = std::move(update.backends);
  if (options_.filter != nullptr) backends = options_.filter(std::move(backends));
  const std::string change = discovery::DescribeChange(last_, backends);
  last_ = backends;
  const size_t count = backends.size();
  policy_.SetBackends(backends);  // before the Hub wakes the streams
  if (hub_.Publish(std::move(backends), update.observed)) {
    spdlog::info("service {} backends: {} ({} now)", key(), change, count);
  }
  if (!std::exchange(listed_, true) && options_.on_first_list != nullptr) {
    options_.on_first_list();
  }
}

}  // namespace jawlb::grpclb
