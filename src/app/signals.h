// Signals, handled synchronously: main blocks every signal jawlb acts on before
// any thread starts (threads inherit the mask), then waits for them.
//
// What each does (README, "Limits and what they protect"):
//   SIGTERM, SIGINT, SIGQUIT  drain (App::Shutdown); one more during the drain
//                             hurries it (App::Hurry): the drain delay is cut
//                             short and open streams are ended at once
//   SIGHUP, SIGUSR1, SIGUSR2  logged and ignored (files are re-read when they
//                             change; nothing needs a signal)
//   SIGPIPE                   ignored (a client gone mid-write is an error
//                             return, never a kill)
//
// Threading: call these from the main thread only.
#ifndef JAWLB_APP_SIGNALS_H_
#define JAWLB_APP_SIGNALS_H_

#include <functional>

namespace jawlb::app {

// Blocks the signals above in the calling thread and every thread it starts,
// and ignores SIGPIPE.
void BlockSignals();

// Blocks until a termination signal arrives, logging and ignoring the others;
// returns its number.
int WaitForTerminationSignal();

// Runs `shutdown` on a thread of its own while this one keeps taking signals:
// each further termination signal calls `hurry`. Returns when `shutdown` has.
void ShutdownTakingSignals(const std::function<void()>& shutdown,
                           const std::function<void()>& hurry);

// "SIGTERM", "SIGHUP", ...
const char* SignalName(int signal);

}  // namespace jawlb::app

#endif  // JAWLB_APP_SIGNALS_H_
