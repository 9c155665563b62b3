// HttpServer: the admin port's HTTP/1.1 server — small on purpose, because it
// faces whoever can reach the pod. One thread polls every connection; a
// connection costs a descriptor and its buffers, never a thread, so slow or
// idle clients cannot starve the others (the Kubernetes probes, a scrape).
//
// What a client can make it do, and the bound on each:
//   - methods: GET and HEAD only; anything else is 405 and the connection
//     closes without reading a body;
//   - a request: its line and headers within kMaxRequestBytes, else 431; a
//     body (Content-Length or Transfer-Encoding) is never read: 413;
//   - time: the whole request must arrive within `request_timeout` of the
//     connection opening, and the whole response be taken within
//     `response_timeout`; one request per connection (Connection: close);
//   - memory: responses waiting for slow readers take at most
//     `max_buffered_bytes`; a large response past it is 503 (small ones,
//     the probes, are always answered);
//   - connections: at most `max_connections`; when full, a new connection
//     replaces the one that has been waiting longest for its request to
//     arrive (a slow client makes room for a fast one), or is closed at once
//     if every connection is busy with a response;
//   - descriptors: when the process is out of them (EMFILE), a spare
//     descriptor is freed to accept and close the waiting connection, so the
//     listener keeps draining its backlog and recovers as soon as it can.
// Handlers run on the server's thread, one at a time: they must be quick.
//
// Owns its listening socket and thread. Threading: Start() and Stop() on one
// thread (the App's); the handler runs on the server's thread.
#ifndef JAWLB_ADMIN_HTTP_SERVER_H_
#define JAWLB_ADMIN_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "admin/http_request.h"
#include "common/metrics.h"

namespace jawlb::admin {

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;
  // Responses this small are never refused for the output budget.
  static constexpr size_t kSmallResponse = 64 << 10;

  struct Options {
    std::string host;  // "" = every interface, IPv6 and IPv4
    int port = 0;      // 0 = any free port
    size_t max_connections = 64;
    absl::Duration request_timeout = absl::Seconds(5);
    absl::Duration response_timeout = absl::Seconds(30);
    // Bytes of responses not yet taken by their clients, at most: a larger
    // response past it is answered 503 (slow readers of /debug/state cannot
    // hold the process's memory).
    size_t max_buffered_bytes = 32 << 20;
  };
  using Request = HttpRequest;
  struct Response {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
  };
  using Handler = std::function<Response(const Request&)>;

  // Binds and starts serving. Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Stops serving, closes every connection and joins the thread. Idempotent.
  void Stop();

  // Connections open now, and refused or cut by a bound, by reason.
  void WriteMetrics(metrics::TextWriter& out) const;

 private:
  struct Connection;
  HttpServer(Options options, Handler handler);
  void Run();
  void Accept();
  // Handles what poll said of `connection` (`events`) at `now`. False when
  // the connection is done with (the caller closes it).
  bool Serve(Connection& connection, short events, absl::Time now);
  // Reads what `connection` sent; answers once the request is whole. False
  // when the connection is done with.
  bool OnReadable(Connection& connection);
  bool OnWritable(Connection& connection);
  void Answer(Connection& connection, const Response& response, bool head);
  // Makes room for one more connection; false when none can be made.
  bool MakeRoom();
  // Closes the connection's socket and forgets what it had left to send.
  void Close(Connection& connection);

  // Constant after construction.
  const Options options_;
  const Handler handler_;

  // The server's thread only, once started.
  int listener_ = -1;
  int spare_ = -1;    // a descriptor kept to be freed on EMFILE
  int wake_fd_ = -1;  // eventfd: Stop() wakes the poll
  int port_ = 0;
  std::vector<std::unique_ptr<Connection>> connections_;
  size_t buffered_ = 0;  // response bytes not yet sent, over every connection
  std::thread thread_;

  metrics::Gauge open_;
  metrics::CounterMap refused_{{"reason"}};
};

}  // namespace jawlb::admin

#endif  // JAWLB_ADMIN_HTTP_SERVER_H_
