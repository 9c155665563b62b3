// FileSource: a Source that reads endpoints from a file (JAWLB_ENDPOINTSFILE)
// and delivers a new BackendSet whenever the file's content changes.
//
// The file holds endpoints separated by commas, spaces or newlines, with '#'
// comments (see ParseBackendList). It is polled: a change is applied once the
// file has looked the same for two polls in a row, so a writer caught half-way
// is never read as a short list. A file that becomes unreadable or malformed is
// logged and ignored: the last good set stays in force. Replacing the file by
// rename (as a Kubernetes ConfigMap volume does) is seen like an edit.
//
// Owns its polling thread. Threading: Start() and Stop() on the main thread;
// OnUpdate runs on the polling thread (the first set inside Start()).
#ifndef JAWLB_DISCOVERY_FILE_SOURCE_H_
#define JAWLB_DISCOVERY_FILE_SOURCE_H_

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "discovery/source.h"

namespace jawlb::discovery {

class FileSource final : public Source {
 public:
  FileSource(std::string path, absl::Duration poll_interval);
  ~FileSource() override;

  // Source:
  // Start() fails with NotFound / PermissionDenied / InvalidArgument when the
  // file cannot be read or parsed at start-up (a typo should not start a
  // balancer with no backends).
  absl::Status Start(OnUpdate on_update) override;
  void Stop() override;

 private:
  // What identifies a version of the file without reading it.
  struct FileStamp {
    bool ok = false;
    int64_t inode = 0, size = 0, mtime_ns = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  FileStamp Stat() const;
  absl::StatusOr<BackendSet> Read() const;
  void Poll();

  // Constant after construction.
  const std::string path_;
  const absl::Duration poll_interval_;

  // Confined to the polling thread once Start() returns.
  OnUpdate on_update_;
  FileStamp applied_;   // the version whose content was last read
  FileStamp observed_;  // what the previous poll saw
  BackendSet last_;     // the last set delivered

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_FILE_SOURCE_H_
