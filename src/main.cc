// jawlb: a lookaside load balancer (grpclb and xDS). Reads the configuration,
// runs the App until SIGTERM, SIGINT or SIGQUIT, then drains and exits 0
// (signals.h). `jawlb bootstrap` prints an xDS client's bootstrap file.
#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

#include "app/app.h"
#include "app/bootstrap.h"
#include "app/logging.h"
#include "app/signals.h"
#include "config/config.h"

int main(int argc, char** argv) {
  using jawlb::config::Config;
  if (std::optional<int> done = jawlb::app::RunSubcommand(argc, argv)) return *done;  // --help
  absl::StatusOr<Config> config = Config::FromEnvAndArgs(&std::getenv, argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "jawlb: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a
  // graph update per lock: measured ~4% of jawlb's CPU at 10,000 streams). The
  // tests keep it; the service runs without.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  jawlb::app::ConfigureLogging(config->log_level, config->log_format);
  jawlb::app::BlockSignals();
  auto app = jawlb::app::App::Start(*config);
  if (!app.ok()) {
    std::fprintf(stderr, "jawlb: %s\n", std::string(app.status().message()).c_str());
    return 1;
  }
  const int signal = jawlb::app::WaitForTerminationSignal();
  spdlog::info("received {}: draining", jawlb::app::SignalName(signal));
  jawlb::app::ShutdownTakingSignals([&] { (*app)->Shutdown(); }, [&] { (*app)->Hurry(); });
  return 0;
}
