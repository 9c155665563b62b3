#include "app/signals.h"

#include <atomic>
#include <cerrno>
#include <thread>

#include <signal.h>
#include <time.h>

#include "spdlog/spdlog.h"

namespace jawlb::app {
namespace {

constexpr int kTermination[] = {SIGTERM, SIGINT, SIGQUIT};
constexpr int kIgnored[] = {SIGHUP, SIGUSR1, SIGUSR2};

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kTermination) sigaddset(&set, signal);
  for (int signal : kIgnored) sigaddset(&set, signal);
  return set;
}

bool IsTermination(int signal) {
  for (int s : kTermination) {
    if (s == signal) return true;
  }
  return false;
}

}  // namespace

const char* SignalName(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGHUP:
      return "SIGHUP";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "a signal";
  }
}

void BlockSignals() {
  const sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  const sigset_t set = HandledSignals();
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (IsTermination(signal)) return signal;
    spdlog::info(
        "received {}: ignored (jawlb re-reads its files when they change; send SIGTERM "
        "to drain and stop)",
        SignalName(signal));
  }
}

void ShutdownTakingSignals(const std::function<void()>& shutdown,
                           const std::function<void()>& hurry) {
  std::atomic<bool> done{false};
  std::thread thread([&] {
    shutdown();
    done = true;
  });
  const sigset_t set = HandledSignals();
  const timespec poll = {0, 100000000L};  // 100 ms
  while (!done) {
    const int signal = sigtimedwait(&set, nullptr, &poll);
    if (signal < 0) continue;  // EAGAIN (no signal in time) or EINTR
    if (IsTermination(signal)) {
      spdlog::warn("received {} while draining: ending the open streams now", SignalName(signal));
      hurry();
    } else {
      spdlog::info("received {} while draining: ignored", SignalName(signal));
    }
  }
  thread.join();
}

}  // namespace jawlb::app
