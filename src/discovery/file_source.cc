#include "discovery/file_source.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace jawlb::discovery {

FileSource::FileSource(std::string path, absl::Duration poll_interval)
    : path_(std::move(path)), poll_interval_(poll_interval) {}

FileSource::~FileSource() { Stop(); }

FileSource::FileStamp FileSource::Stat() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return FileStamp{};
  return FileStamp{true, static_cast<int64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

absl::StatusOr<BackendSet> FileSource::Read() const {
  std::ifstream in(path_);
  if (!in) {
    const int error = errno;
    const std::string why = absl::StrCat("JAWLB_ENDPOINTSFILE \"", path_, "\": ", strerror(error));
    if (error == ENOENT) return absl::NotFoundError(why);
    if (error == EACCES) return absl::PermissionDeniedError(why);
    return absl::UnavailableError(why);
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<BackendSet> set = ParseBackendList(text.str());
  if (!set.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JAWLB_ENDPOINTSFILE \"", path_, "\": ", set.status().message()));
  }
  return set;
}

absl::Status FileSource::Start(OnUpdate on_update) {
  on_update_ = std::move(on_update);
  applied_ = observed_ = Stat();
  absl::StatusOr<BackendSet> set = Read();
  if (!set.ok()) return set.status();
  last_ = *std::move(set);
  on_update_(last_, absl::Now());
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

void FileSource::Poll() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_interval_)) return;
    }
    const FileStamp now = Stat();
    const bool settled = now == observed_;
    observed_ = now;
    if (!settled || now == applied_) continue;
    applied_ = now;
    if (!now.ok) {
      spdlog::error("JAWLB_ENDPOINTSFILE \"{}\" is gone; keeping the last {} backends", path_,
                    last_.size());
      continue;
    }
    absl::StatusOr<BackendSet> set = Read();
    if (!set.ok()) {
      spdlog::error("{}; keeping the last {} backends", set.status().ToString(), last_.size());
      continue;
    }
    if (*set == last_) continue;
    last_ = *std::move(set);
    spdlog::info("JAWLB_ENDPOINTSFILE \"{}\" changed: {} backends", path_, last_.size());
    on_update_(last_, absl::Now());
  }
}

}  // namespace jawlb::discovery
