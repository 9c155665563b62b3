// FakeTransport: an HttpTransport that plays a script in virtual time, as
// LevelDB's SpecialEnv does for disk faults. Each Get()/Stream() takes the next
// scripted reply (a response, a streamed body in chunks, or a transport error)
// and records the path it was asked for; when the script runs out, requests
// stay open, like a watch on a quiet server. Timers run in order of their
// virtual deadlines, at once, and their delays are recorded.
//
// Nothing runs until RunUntil(), which plays replies and timers on the
// caller's thread (the fake's "I/O thread").
//
// Threading: one thread.
#ifndef JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_
#define JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "k8s/http_transport.h"

namespace jawlb::k8s {

class FakeTransport final : public HttpTransport {
 public:
  struct Reply {
    absl::Status error;                // a transport failure instead of a response
    HttpResponse response;             // status, body (non-streamed), retry_after
    std::vector<std::string> chunks;   // for Stream() with status 200
  };

  void Add(Reply reply) { script_.push_back(std::move(reply)); }
  // A 200 JSON body for Get().
  void AddBody(std::string body) { Add({absl::OkStatus(), {200, std::move(body), {}}, {}}); }
  // A 200 stream delivering `chunks`, then ending.
  void AddStream(std::vector<std::string> chunks) {
    Add({absl::OkStatus(), {200, "", {}}, std::move(chunks)});
  }

  const std::vector<std::string>& Paths() const { return paths_; }
  // Every timer's delay, in the order asked.
  const std::vector<absl::Duration>& Delays() const { return delays_; }

  // Plays replies (to requests in the order made) and timers (in the order
  // due) until `done()` or nothing is left that could run. Returns done().
  bool RunUntil(const std::function<bool()>& done) {
    while (!done()) {
      if (!opened_.empty() && !script_.empty()) {
        Reply reply = std::move(script_.front());
        script_.pop_front();
        Open open = std::move(opened_.front());
        opened_.pop_front();
        Play(open, reply);
      } else if (!timers_.empty()) {
        auto first = timers_.begin();
        now_ = first->first;
        Task task = std::move(first->second);
        timers_.erase(first);
        task();
      } else {
        break;
      }
    }
    return done();
  }
  // Runs until `count` requests were made.
  bool RunUntilRequests(size_t count) {
    return RunUntil([&] { return paths_.size() >= count; });
  }

  // HttpTransport:
  void Get(std::string path, OnDone done) override {
    if (cancelled_) return;
    paths_.push_back(path);
    opened_.push_back({nullptr, std::move(done)});
  }
  void Stream(std::string path, absl::Duration, OnData on_data, OnDone done) override {
    if (cancelled_) return;
    paths_.push_back(path);
    opened_.push_back({std::move(on_data), std::move(done)});
  }
  void After(absl::Duration delay, Task task) override {
    if (cancelled_) return;
    delays_.push_back(delay);
    timers_.emplace(now_ + delay, std::move(task));
  }
  void Cancel() override {
    cancelled_ = true;
    opened_.clear();
    timers_.clear();
  }

 private:
  struct Open {
    OnData on_data;  // null for Get()
    OnDone done;
  };

  void Play(Open& open, Reply& reply) {
    if (!reply.error.ok()) return open.done(reply.error);
    if (open.on_data != nullptr && reply.response.status == 200) {
      for (const std::string& chunk : reply.chunks) {
        if (!open.on_data(chunk) || cancelled_) break;
      }
    }
    if (!cancelled_) open.done(reply.response);
  }

  std::deque<Reply> script_;
  std::deque<Open> opened_;
  std::multimap<absl::Duration, Task> timers_;
  absl::Duration now_;
  std::vector<std::string> paths_;
  std::vector<absl::Duration> delays_;
  bool cancelled_ = false;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_TESTS_FAKES_FAKE_TRANSPORT_H_
