// Termination signals, handled synchronously: main blocks SIGTERM and SIGINT
// before any thread starts (threads inherit the mask), then waits for one.
//
// Threading: call both from the main thread only.
#ifndef JAWLB_APP_SIGNALS_H_
#define JAWLB_APP_SIGNALS_H_

#include <signal.h>

namespace jawlb::app {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts.
inline void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Blocks until SIGTERM or SIGINT arrives; returns its number.
inline int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

}  // namespace jawlb::app

#endif  // JAWLB_APP_SIGNALS_H_
