// FileSource: a Source that reads endpoints from a file (JAWLB_ENDPOINTSFILE)
// and delivers a new BackendSet whenever the file's content changes.
//
// The file holds endpoints separated by commas, spaces or newlines, with '#'
// comments (see ParseBackendList). It is polled, and only a complete file is
// read as a list, so a writer caught half-way never sends clients a short or
// wrong list:
//   - it must be a regular file (not a directory, FIFO or device; a FIFO is
//     never opened in a way that could block);
//   - its content must end with a newline, or have stood still for
//     kUnterminatedSettle (a file written without a final newline, as some
//     ConfigMaps are), or have been renamed into place after its last write;
//   - an empty file is a write in progress (`cmd > file` truncates first): to
//     say "no backends", write a comment ("# none") or a blank line;
//   - a change is applied once the file has looked the same for two polls.
// Anything else (missing, unreadable, malformed, incomplete) keeps the last
// good set in force; the reason is logged once, and the file is tried again
// every poll, so fixing its permissions is noticed without a change to its
// content. Replacing the file by rename (as a ConfigMap volume does, or
// `mv tmp file`) is the way to write it.
//
// Owns its polling thread. Threading: Start() and Stop() on the main thread;
// OnUpdate runs on the polling thread (the first set inside Start(), if the
// file is complete then).
#ifndef JAWLB_DISCOVERY_FILE_SOURCE_H_
#define JAWLB_DISCOVERY_FILE_SOURCE_H_

#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "discovery/source.h"

namespace jawlb::discovery {

class FileSource final : public Source {
 public:
  // How long content without a final newline must stand still to count as
  // complete.
  static constexpr absl::Duration kUnterminatedSettle = absl::Seconds(10);
  // The largest file read (a list of 100,000 IPv6 endpoints is about 5 MB).
  static constexpr int64_t kMaxBytes = 64 << 20;

  // `unterminated_settle`: see kUnterminatedSettle (tests: shorter).
  FileSource(std::string path, absl::Duration poll_interval,
             absl::Duration unterminated_settle = kUnterminatedSettle);
  ~FileSource() override;

  // Source:
  // Start() fails with NotFound / PermissionDenied / InvalidArgument /
  // FailedPrecondition when the file is missing, unreadable, malformed or not
  // a regular file at start-up (a typo should not start a balancer with no
  // backends). A file still being written is waited for: nothing is delivered
  // (jawlb is not ready) until it is complete.
  absl::Status Start(OnUpdate on_update) override;
  void Stop() override;

 private:
  // What identifies a version of the file without reading it.
  struct FileStamp {
    bool ok = false;
    bool regular = false;
    int64_t inode = 0, size = 0, mtime_ns = 0, ctime_ns = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  FileStamp Stat() const;
  // The file's set; Unavailable (with why) while it is not complete.
  absl::StatusOr<BackendSet> Read(const FileStamp& stamp, absl::Time now) const;
  void Poll();
  // One poll at `now`.
  void PollOnce(absl::Time now);
  // Logs `status` unless it is the reason already logged.
  void Report(const absl::Status& status);

  // Constant after construction.
  const std::string path_;
  const absl::Duration poll_interval_;
  const absl::Duration unterminated_settle_;

  // Confined to the polling thread once Start() returns.
  OnUpdate on_update_;
  FileStamp applied_;               // the version last read successfully
  FileStamp observed_;              // what the previous poll saw
  absl::Time observed_since_;       // since when it has looked like that
  std::optional<BackendSet> last_;  // the last set delivered
  std::string reported_;            // the failure last logged ("" after a success)

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_FILE_SOURCE_H_
