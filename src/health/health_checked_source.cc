#include "health/health_checked_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::health {

HealthCheckedSource::HealthCheckedSource(std::unique_ptr<discovery::Source> inner,
                                         HealthChecker::Options options)
    : inner_(std::move(inner)), options_(std::move(options)) {}

HealthCheckedSource::~HealthCheckedSource() { Stop(); }

absl::Status HealthCheckedSource::Start(OnUpdate on_update) {
  on_update_ = std::move(on_update);
  return inner_->Start([this](discovery::Update update) { OnInnerUpdate(std::move(update)); });
}

void HealthCheckedSource::Stop() {
  inner_->Stop();  // no inner update after this: no checker is made any more
  HealthChecker* checker = nullptr;
  {
    absl::MutexLock lock(&mu_);
    checker = checker_.get();
  }
  // Stopped, not destroyed: readers of checker() (metrics, /debug/state)
  // may still look at it.
  if (checker != nullptr) checker->Stop();
}

const HealthChecker* HealthCheckedSource::checker() const {
  absl::MutexLock lock(&mu_);
  return checker_.get();
}

void HealthCheckedSource::OnInnerUpdate(discovery::Update update) {
  if (!update.status.ok()) {
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    on_update_(std::move(update));
    return;
  }
  HealthChecker* checker = CheckerOnce();
  if (checker != nullptr) checker->SetBackends(std::move(update.backends), update.observed);
}

HealthChecker* HealthCheckedSource::CheckerOnce() {
  {
    absl::MutexLock lock(&mu_);
    if (checker_ != nullptr || ended_) return checker_.get();
  }
  absl::StatusOr<std::unique_ptr<HealthChecker>> made =
      HealthChecker::Start(options_, [this](discovery::BackendSet backends, absl::Time observed) {
        {
          absl::MutexLock lock(&mu_);
          if (ended_) return;
        }
        on_update_(discovery::Update{std::move(backends), observed, absl::OkStatus()});
      });
  if (!made.ok()) {
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    on_update_(discovery::Update{{},
                                 Clock::Real().Now(),
                                 absl::ResourceExhaustedError(absl::StrCat(
                                     "health checks cannot start: ", made.status().message()))});
    return nullptr;
  }
  absl::MutexLock lock(&mu_);
  checker_ = *std::move(made);
  return checker_.get();
}

}  // namespace jawlb::health
