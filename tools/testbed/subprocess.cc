#include "testbed/subprocess.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace jawlb::testbed {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(std::vector<std::string> argv,
                                                              std::vector<std::string> env,
                                                              std::string log_path) {
  // Everything the child needs is prepared before fork(): between fork() and
  // exec() a multi-threaded process may only make async-signal-safe calls.
  // `env` comes first: getenv() finds the first of two equal names.
  for (char** var = environ; *var != nullptr; ++var) env.push_back(*var);
  std::vector<char*> child_argv;
  for (std::string& arg : argv) child_argv.push_back(arg.data());
  child_argv.push_back(nullptr);
  std::vector<char*> child_env;
  for (std::string& var : env) child_env.push_back(var.data());
  child_env.push_back(nullptr);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("open ", log_path, ": ", strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(child_argv[0], child_argv.data(), child_env.data());
    _exit(127);
  }
  close(log_fd);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, std::move(log_path)));
}

Subprocess::~Subprocess() { Stop(SIGKILL, absl::Seconds(10)); }

std::string Subprocess::Output() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> Subprocess::WaitForLine(absl::string_view needle,
                                                    absl::Duration timeout, int nth) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const bool exited = Poll().has_value();
    const std::string output = Output();
    int found = 0;
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      if (line.find(needle) != absl::string_view::npos && ++found == nth) {
        return std::string(line);
      }
    }
    if (exited) {
      return absl::AbortedError(absl::StrCat("process ", pid_, " exited before printing \"", needle,
                                             "\" (", nth, "x); its output:\n", output));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no \"", needle, "\" (", nth, "x) from process ", pid_, " within ",
                       absl::FormatDuration(timeout), "; its output:\n", output));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::optional<int> Subprocess::Poll() {
  if (exit_status_.has_value()) return exit_status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
  return exit_status_;
}

std::optional<int> Subprocess::Stop(int signal, absl::Duration timeout) {
  if (Poll().has_value()) return exit_status_;
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Poll().has_value()) return exit_status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = status;
  return signal == SIGKILL ? exit_status_ : std::nullopt;
}

bool ExitedWith(std::optional<int> status, int code) {
  return status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

std::string MakeTempDir(absl::string_view prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", prefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return "/tmp";
  return pattern;
}

absl::StatusOr<int> PickFreePort(const std::string& ip) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    const int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(addr);
    if (tcp < 0 || bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (tcp >= 0) close(tcp);
      continue;
    }
    const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const bool udp_free =
        udp >= 0 && bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (udp >= 0) close(udp);
    close(tcp);
    if (udp_free) return ntohs(addr.sin_port);
  }
  return absl::UnavailableError(absl::StrCat("no free port on ", ip));
}

}  // namespace jawlb::testbed
