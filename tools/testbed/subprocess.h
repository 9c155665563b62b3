// Subprocess: a child process for the demo and the integration tests (jawlb
// itself, dnsmasq, the Go client), with its stdout and stderr in a log file
// that can be waited on. Killed (SIGKILL) when the object goes, and by the
// kernel if the thread that spawned it dies (PR_SET_PDEATHSIG), so a crashed
// test leaves nothing behind.
//
// Threading: thread-compatible; use one from one thread at a time.
#ifndef JAWLB_TOOLS_TESTBED_SUBPROCESS_H_
#define JAWLB_TOOLS_TESTBED_SUBPROCESS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jawlb::testbed {

class Subprocess {
 public:
  // Runs argv[0] (a path) with the current environment plus `env`
  // ("NAME=value"), output into `log_path`. Internal when fork fails.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(std::vector<std::string> argv,
                                                           std::vector<std::string> env,
                                                           std::string log_path);
  ~Subprocess();

  // The `nth` (1-based) line of output containing `needle`, waiting up to
  // `timeout`. DeadlineExceeded on timeout, Aborted when the process exits
  // first; both carry the output so far.
  absl::StatusOr<std::string> WaitForLine(absl::string_view needle, absl::Duration timeout,
                                          int nth = 1);

  // Everything the process printed so far.
  std::string Output() const;

  // Sends `signal` and waits up to `timeout` for the exit; then SIGKILL. Returns
  // the wait status (see WIFEXITED), or nullopt if it had to be killed.
  std::optional<int> Stop(int signal, absl::Duration timeout);

  // The wait status if the process has exited, without blocking.
  std::optional<int> Poll();

  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  const pid_t pid_;
  const std::string log_path_;
  std::optional<int> exit_status_;
};

// True when `status` (from Stop() or Poll()) says the process exited with `code`.
bool ExitedWith(std::optional<int> status, int code);

// A fresh temporary directory, removed by the caller (or left for post-mortem).
std::string MakeTempDir(absl::string_view prefix);

// A port that is free on `ip` for both TCP and UDP right now.
absl::StatusOr<int> PickFreePort(const std::string& ip);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_SUBPROCESS_H_
