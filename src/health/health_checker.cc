#include "health/health_checker.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::health {

using balancer::HealthTracker;
using discovery::Backend;
using grpc::health::v1::HealthCheckResponse;
using Verdict = HealthTracker::Verdict;

// One Watch call on one backend. One operation is outstanding at a time
// (start, then reads, then finish), so the Watch itself is the tag.
class HealthChecker::Watch {
 public:
  enum class Op { kStart, kRead, kFinish };

  Watch(Backend backend, const std::shared_ptr<grpc::Channel>& channel)
      : backend(std::move(backend)), stub(grpc::health::v1::Health::NewStub(channel)) {}

  const Backend backend;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub;
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  HealthCheckResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncReader<HealthCheckResponse>> reader;
  Op op = Op::kStart;
  bool cancelled = false;  // by us: the backend left, or we stop
};

namespace {

// "UNAVAILABLE: failed to connect to all addresses" (gRPC's codes are absl's).
std::string DescribeStatus(const grpc::Status& status) {
  if (status.ok()) return "the backend ended the watch";
  return absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

}  // namespace

HealthChecker::HealthChecker(Options options, Publish publish)
    : options_(std::move(options)), publish_(std::move(publish)), tracker_(options_.tracker) {}

absl::StatusOr<std::unique_ptr<HealthChecker>> HealthChecker::Start(Options options,
                                                                    Publish publish) {
  std::unique_ptr<HealthChecker> checker(new HealthChecker(std::move(options), std::move(publish)));
  try {
    checker->thread_ = std::thread([raw = checker.get()] { raw->Run(); });
  } catch (const std::system_error& error) {  // std::thread's only way to fail
    // Nothing was watched yet: the stop runs to its end on this thread, and
    // the queue is shut down and drained before the checker goes.
    checker->Stop();
    checker->Run();
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start a health-check thread: ", error.what()));
  }
  return checker;
}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::SetBackends(discovery::BackendSet backends, absl::Time observed) {
  absl::MutexLock lock(&mu_);
  if (stop_requested_) return;
  commands_.push_back(Command{std::move(backends), observed});
  if (!wake_pending_) {
    wake_pending_ = true;
    wake_.Set(&cq_, std::chrono::system_clock::now(), this);
  }
}

void HealthChecker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_requested_) {
      stop_requested_ = true;
      if (!wake_pending_) {
        wake_pending_ = true;
        wake_.Set(&cq_, std::chrono::system_clock::now(), this);
      }
    }
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<HealthTracker::Entry> HealthChecker::Describe() const {
  absl::MutexLock lock(&mu_);
  return described_;
}

bool HealthChecker::panic() const {
  absl::MutexLock lock(&mu_);
  return panic_;
}

size_t HealthChecker::failing() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(std::count_if(described_.begin(), described_.end(),
                                           [](const auto& entry) { return entry.removed; }));
}

void HealthChecker::WriteMetrics(metrics::TextWriter& out) const {
  const size_t removed = failing();
  const bool panic = this->panic();
  out.Gauge("jawlb_health_watches", "Health watches open (JAWLB_HEALTHCHECK=grpc).",
            static_cast<double>(watching_.value()));
  out.Gauge("jawlb_health_backends_failing",
            "Backends out of the lists (or that would be, in panic) for failing health checks.",
            static_cast<double>(removed));
  out.Gauge("jawlb_health_panic",
            "1 while more than half of the backends fail health checks and all are sent anyway.",
            panic ? 1 : 0);
  out.Counter("jawlb_health_removals_total", "Backends taken out of the lists by health checks.",
              static_cast<double>(removals_.value()));
  out.Counter("jawlb_health_readmissions_total",
              "Backends let back into the lists after serving for their hold time.",
              static_cast<double>(readmissions_.value()));
  out.Counter("jawlb_health_panics_total", "Times health checking entered panic mode.",
              static_cast<double>(panics_.value()));
}

void HealthChecker::Run() {
  bool have_set = false;
  bool shut_down = false;
  while (true) {
    void* tag = nullptr;
    bool ok = false;
    const grpc::CompletionQueue::NextStatus next =
        cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(NextDeadline()));
    if (next == grpc::CompletionQueue::SHUTDOWN) break;
    absl::Time observed = Clock::Real().Now();
    if (next == grpc::CompletionQueue::GOT_EVENT && tag == this) {
      if (std::optional<absl::Time> applied = TakeCommands(); applied.has_value()) {
        observed = *applied;
        have_set = true;
      }
    } else if (next == grpc::CompletionQueue::GOT_EVENT) {
      OnWatchEvent(static_cast<Watch*>(tag), ok);
    }
    if (stopping_) {
      // Every watch must let go of the queue before it shuts down (and no
      // wake is pending: Stop() and SetBackends() set none after the stop).
      if (watches_.empty() && !shut_down) {
        shut_down = true;
        cq_.Shutdown();
      }
      continue;
    }
    StartDueRetries();
    if (have_set) Settle(observed);
  }
}

absl::Time HealthChecker::NextDeadline() const {
  // Woken by completions; otherwise at the next readmission or retry (none
  // while stopping: only the watches' ends matter then).
  absl::Time deadline = Clock::Real().Now() + absl::Hours(1);
  if (stopping_) return deadline;
  deadline = std::min(deadline, tracker_.NextReadmission());
  for (const auto& [backend, at] : retry_at_) deadline = std::min(deadline, at);
  return deadline;
}

std::optional<absl::Time> HealthChecker::TakeCommands() {
  std::vector<Command> commands;
  bool stop = false;
  {
    absl::MutexLock lock(&mu_);
    wake_pending_ = false;
    commands.swap(commands_);
    stop = stop_requested_;
  }
  std::optional<absl::Time> observed;
  for (const Command& command : commands) {
    Apply(command);
    observed = command.observed;
  }
  if (stop && !stopping_) {
    stopping_ = true;
    for (auto& [backend, watch] : active_) {
      watch->cancelled = true;
      watch->context.TryCancel();
    }
    active_.clear();
    retry_at_.clear();
  }
  return observed;
}

void HealthChecker::StartDueRetries() {
  const absl::Time now = Clock::Real().Now();
  for (auto it = retry_at_.begin(); it != retry_at_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    const Backend backend = it->first;
    it = retry_at_.erase(it);
    StartWatch(backend);
  }
}

void HealthChecker::Apply(const Command& command) {
  const std::vector<Backend>& backends = command.backends.backends();
  tracker_.SetBackends(backends);
  set_ = command.backends;
  const std::set<Backend> wanted(backends.begin(), backends.end());
  for (auto it = active_.begin(); it != active_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    it->second->cancelled = true;
    it->second->context.TryCancel();
    it = active_.erase(it);
  }
  std::erase_if(retry_at_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  std::erase_if(channels_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  std::erase_if(failures_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  std::erase_if(warned_unimplemented_, [&](const Backend& b) { return !wanted.contains(b); });
  for (const Backend& backend : backends) {
    if (!active_.contains(backend) && !retry_at_.contains(backend)) StartWatch(backend);
  }
  watching_.Set(static_cast<int64_t>(active_.size()));
}

void HealthChecker::StartWatch(const Backend& backend) {
  std::shared_ptr<grpc::Channel>& channel = channels_[backend];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    // Reconnect soon after a backend comes back (gRPC's default backoff grows
    // to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10000);
    channel =
        grpc::CreateCustomChannel(backend.ToString(), grpc::InsecureChannelCredentials(), args);
  }
  auto watch = std::make_unique<Watch>(backend, channel);
  watch->request.set_service(options_.service);
  Watch* raw = watch.get();
  raw->reader = raw->stub->AsyncWatch(&raw->context, raw->request, &cq_, raw);
  active_[backend] = raw;
  watches_[raw] = std::move(watch);
  watching_.Set(static_cast<int64_t>(active_.size()));
}

void HealthChecker::OnWatchEvent(Watch* watch, bool ok) {
  switch (watch->op) {
    case Watch::Op::kStart:
    case Watch::Op::kRead:
      if (watch->op == Watch::Op::kRead && ok && !watch->cancelled) {
        failures_[watch->backend] = 0;
        switch (watch->response.status()) {
          case HealthCheckResponse::SERVING:
            Observe(watch->backend, Verdict::kServing, "SERVING");
            break;
          case HealthCheckResponse::NOT_SERVING:
            Observe(watch->backend, Verdict::kNotServing, "NOT_SERVING");
            break;
          case HealthCheckResponse::SERVICE_UNKNOWN:
            Observe(watch->backend, Verdict::kNotServing,
                    absl::StrCat("SERVICE_UNKNOWN: the backend does not know service \"",
                                 options_.service, "\" (JAWLB_HEALTHCHECKSERVICE)"));
            break;
          default:
            Observe(watch->backend, Verdict::kNotServing,
                    absl::StrCat("status ", static_cast<int>(watch->response.status())));
            break;
        }
      }
      if (ok) {
        watch->op = Watch::Op::kRead;
        watch->reader->Read(&watch->response, watch);
      } else {
        watch->op = Watch::Op::kFinish;
        watch->reader->Finish(&watch->status, watch);
      }
      return;
    case Watch::Op::kFinish:
      break;
  }
  // The call is over.
  if (!watch->cancelled) {
    const Backend& backend = watch->backend;
    active_.erase(backend);
    int& failures = failures_[backend];
    absl::Duration backoff = options_.retry_min;
    for (int i = 0; i < failures && backoff < options_.retry_max; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.retry_max);
    if (watch->status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      if (warned_unimplemented_.insert(backend).second) {
        spdlog::warn("health: backend {} has no grpc.health.v1.Health service: trusted as serving",
                     backend.ToString());
      }
      Observe(backend, Verdict::kServing, "no health service (UNIMPLEMENTED): trusted as serving");
      backoff = options_.retry_max;
    } else {
      ++failures;
      Observe(backend, Verdict::kUnreachable, DescribeStatus(watch->status));
    }
    retry_at_[backend] = Clock::Real().Now() + backoff;
    watching_.Set(static_cast<int64_t>(active_.size()));
  }
  watches_.erase(watch);
}

void HealthChecker::Observe(const Backend& backend, Verdict verdict, std::string detail) {
  tracker_.Observe(backend, verdict, std::move(detail), Clock::Real().Now());
}

void HealthChecker::Settle(absl::Time observed) {
  tracker_.Advance(Clock::Real().Now());
  std::vector<HealthTracker::Entry> entries = tracker_.Describe();
  std::set<Backend> removed;
  for (const HealthTracker::Entry& entry : entries) {
    if (!entry.removed) {
      if (removed_.contains(entry.backend)) {
        readmissions_.Add();
        spdlog::info("health: backend {} is back in the lists ({})", entry.backend.ToString(),
                     entry.detail);
      }
      continue;
    }
    removed.insert(entry.backend);
    if (!removed_.contains(entry.backend)) {
      removals_.Add();
      spdlog::warn("health: backend {} taken out of the lists: {}", entry.backend.ToString(),
                   entry.detail);
    }
  }
  removed_ = std::move(removed);
  const bool panic = tracker_.panic();
  if (panic && !panicking_) {
    panics_.Add();
    spdlog::error(
        "health: PANIC: {} of {} backends fail their health checks (more than half): health is "
        "ignored and every backend is sent until at most half fail (check the backends' health "
        "service, JAWLB_HEALTHCHECKSERVICE and network policies)",
        removed_.size(), entries.size());
  } else if (!panic && panicking_) {
    spdlog::warn("health: panic over: {} of {} backends fail their health checks", removed_.size(),
                 entries.size());
  }
  panicking_ = panic;
  discovery::BackendSet usable = set_.Restrict(tracker_.Usable());
  if (!published_.has_value() || *published_ != usable) {
    published_ = usable;
    publish_(std::move(usable), observed);
  }
  absl::MutexLock lock(&mu_);
  described_ = std::move(entries);
  panic_ = panic;
}

}  // namespace jawlb::health
