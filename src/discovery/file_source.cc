#include "discovery/file_source.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::discovery {
namespace {

int64_t Nanos(const timespec& time) {
  return static_cast<int64_t>(time.tv_sec) * 1000000000 + time.tv_nsec;
}

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

}  // namespace

FileSource::FileSource(std::string path, absl::Duration poll_interval,
                       absl::Duration unterminated_settle)
    : path_(std::move(path)),
      poll_interval_(poll_interval),
      unterminated_settle_(unterminated_settle) {}

FileSource::~FileSource() { Stop(); }

FileSource::FileStamp FileSource::Stat() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return FileStamp{};
  return FileStamp{true,
                   S_ISREG(st.st_mode),
                   static_cast<int64_t>(st.st_ino),
                   static_cast<int64_t>(st.st_size),
                   Nanos(st.st_mtim),
                   Nanos(st.st_ctim)};
}

absl::StatusOr<BackendSet> FileSource::Read(const FileStamp& stamp, absl::Time now) const {
  const std::string name = absl::StrCat("JAWLB_ENDPOINTSFILE \"", path_, "\"");
  // Never blocks: O_NONBLOCK makes opening a FIFO return at once.
  const int fd = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string why = absl::StrCat(name, ": ", strerror(error));
    if (error == ENOENT) return absl::NotFoundError(why);
    if (error == EACCES) return absl::PermissionDeniedError(why);
    return absl::UnavailableError(why);
  }
  struct stat st;
  std::string text;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = absl::UnavailableError(absl::StrCat(name, ": ", strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(absl::StrCat(name, " is ", KindOf(st.st_mode)));
  } else if (st.st_size > kMaxBytes) {
    status = absl::InvalidArgumentError(
        absl::StrCat(name, " is ", st.st_size, " bytes, more than ", kMaxBytes));
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);  // shrank while read: the checks below see what was read
  }
  close(fd);
  if (!status.ok()) return status;
  // A complete file ends with a newline, was renamed into place after its last
  // write (its change time is after its modification time), or has stood still
  // long enough. An empty one is a write in progress.
  const bool terminated = !text.empty() && text.back() == '\n';
  const bool renamed = stamp.ctime_ns > stamp.mtime_ns;
  const bool settled = now - observed_since_ >= unterminated_settle_;
  if (text.empty()) {
    return absl::UnavailableError(absl::StrCat(
        name, " is empty: taken for a write in progress (write \"# none\" for no backends)"));
  }
  if (!terminated && !renamed && !settled) {
    return absl::UnavailableError(absl::StrCat(
        name, " does not end with a newline: waiting ", absl::FormatDuration(unterminated_settle_),
        " for the writer to finish (end the file with a newline, or write it by rename)"));
  }
  absl::StatusOr<BackendSet> set = ParseBackendList(text);
  if (!set.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", set.status().message()));
  }
  return set;
}

absl::Status FileSource::Start(OnUpdate on_update) {
  on_update_ = std::move(on_update);
  observed_ = Stat();
  observed_since_ = Clock::Real().Now();
  absl::StatusOr<BackendSet> set = Read(observed_, observed_since_);
  if (!set.ok() && !absl::IsUnavailable(set.status())) return set.status();
  if (set.ok()) {
    applied_ = observed_;
    last_ = *std::move(set);
    on_update_(Update{*last_, Clock::Real().Now(), absl::OkStatus()});
  } else {
    Report(set.status());
  }
  thread_ = std::thread([this] { Poll(); });
  return absl::OkStatus();
}

void FileSource::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void FileSource::Report(const absl::Status& status) {
  const std::string why(status.message());
  if (why == reported_) return;
  reported_ = why;
  if (last_.has_value()) {
    spdlog::error("{}; keeping the last {} backends", why, last_->size());
  } else {
    spdlog::warn("{}; no backends yet", why);
  }
}

void FileSource::Poll() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_interval_)) return;
    }
    PollOnce(Clock::Real().Now());
  }
}

void FileSource::PollOnce(absl::Time now) {
  const FileStamp stamp = Stat();
  if (stamp != observed_) {  // still changing: look again next poll
    observed_ = stamp;
    observed_since_ = now;
    return;
  }
  if (stamp == applied_ && reported_.empty()) return;  // read already, and fine
  if (!stamp.ok) {
    Report(absl::NotFoundError(absl::StrCat("JAWLB_ENDPOINTSFILE \"", path_, "\" is gone")));
    return;
  }
  absl::StatusOr<BackendSet> set = Read(stamp, now);
  if (!set.ok()) {
    Report(set.status());
    return;
  }
  applied_ = stamp;
  if (!reported_.empty()) {
    spdlog::info("JAWLB_ENDPOINTSFILE \"{}\" is readable and complete again", path_);
    reported_.clear();
  }
  if (last_.has_value() && *set == *last_) return;
  last_ = *std::move(set);
  spdlog::info("JAWLB_ENDPOINTSFILE \"{}\" changed: {} backends", path_, last_->size());
  on_update_(Update{*last_, now, absl::OkStatus()});
}

}  // namespace jawlb::discovery
