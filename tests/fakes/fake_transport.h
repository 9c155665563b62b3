// FakeTransport: an HttpTransport that plays a script, as LevelDB's SpecialEnv
// does for disk faults: each Get()/Stream() takes the next scripted reply (a
// response, a streamed body in chunks, or a transport error) and records the
// path it was asked for. When the script runs out, calls block until Cancel(),
// like a watch on a quiet server.
//
// Threading: thread-safe.
#ifndef JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_
#define JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "k8s/http_transport.h"

namespace jawlb::k8s {

class FakeTransport final : public HttpTransport {
 public:
  struct Reply {
    absl::Status error;                // a transport failure instead of a response
    HttpResponse response;             // status, body (non-streamed), retry_after
    std::vector<std::string> chunks;   // for Stream() with status 200
  };

  void Add(Reply reply) {
    absl::MutexLock lock(&mu_);
    script_.push_back(std::move(reply));
  }
  // A 200 JSON body for Get().
  void AddBody(std::string body) { Add({absl::OkStatus(), {200, std::move(body), {}}, {}}); }
  // A 200 stream delivering `chunks`, then ending.
  void AddStream(std::vector<std::string> chunks) {
    Add({absl::OkStatus(), {200, "", {}}, std::move(chunks)});
  }

  std::vector<std::string> Paths() {
    absl::MutexLock lock(&mu_);
    return paths_;
  }
  // Waits until `count` requests were made.
  bool WaitForRequests(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return paths_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }

  // HttpTransport:
  absl::StatusOr<HttpResponse> Get(const std::string& path) override {
    absl::StatusOr<Reply> reply = Next(path);
    if (!reply.ok()) return reply.status();
    if (!reply->error.ok()) return reply->error;
    return reply->response;
  }
  absl::StatusOr<HttpResponse> Stream(const std::string& path, absl::Duration,
                                      const OnData& on_data) override {
    absl::StatusOr<Reply> reply = Next(path);
    if (!reply.ok()) return reply.status();
    if (!reply->error.ok()) return reply->error;
    if (reply->response.status == 200) {
      for (const std::string& chunk : reply->chunks) {
        if (!on_data(chunk)) break;
      }
    }
    return reply->response;
  }
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

 private:
  absl::StatusOr<Reply> Next(const std::string& path) {
    absl::MutexLock lock(&mu_);
    paths_.push_back(path);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled_ || !script_.empty();
    };
    mu_.Await(absl::Condition(&ready));
    if (cancelled_) return absl::CancelledError("cancelled");
    Reply reply = std::move(script_.front());
    script_.pop_front();
    return reply;
  }

  absl::Mutex mu_;
  std::deque<Reply> script_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> paths_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_
