#include "transport/h2_server.h"

#include <thread>
#include <utility>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::transport {

H2Server::H2Server(Options options) : options_(std::move(options)) {
  options_.connection.counters = &counters_;
  options_.connection.on_close = &options_.on_close;
}

H2Server::~H2Server() { Stop(); }

void H2Server::Register(std::string method, MethodHandler handler) {
  methods_.insert_or_assign(std::move(method), std::move(handler));
}

absl::Status H2Server::Start() {
  size_t count = options_.loops;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < count; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->index = i;
    loop->loop = std::make_unique<EventLoop>(absl::StrCat("h2-", i));
    if (absl::Status started = loop->loop->Start(); !started.ok()) return started;
    loops_.push_back(std::move(loop));
  }
  started_ = true;
  return absl::OkStatus();
}

H2Server::ShardRunner H2Server::wake_runner() {
  return [this](size_t shard, std::function<void()> wake) {
    loops_[shard % loops_.size()]->loop->Post(std::move(wake));
  };
}

void H2Server::Adopt(int fd, std::string peer) {
  if (loops_.empty()) {
    close(fd);
    return;
  }
  Loop& loop = *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
  loop.loop->Post(
      [this, &loop, fd, peer = std::move(peer)]() mutable { Open(loop, fd, std::move(peer)); });
}

void H2Server::Open(Loop& loop, int fd, std::string peer) {
  std::unique_ptr<TlsSocket> tls;
  if (options_.tls != nullptr) {
    if (counters_.tls_handshakes.load(std::memory_order_relaxed) >= options_.max_tls_handshakes) {
      counters_.tls_refused.fetch_add(1, std::memory_order_relaxed);
      int64_t suppressed = 0;
      if (counters_.tls_log.Allow(Clock::Real().Now(), suppressed)) {
        spdlog::warn(
            "transport: connection from {} closed: {} TLS handshakes under way "
            "(JAWLB_MAXTLSHANDSHAKES){}",
            peer, options_.max_tls_handshakes,
            suppressed > 0 ? absl::StrCat(" (and ", suppressed, " more since)") : "");
      }
      if (options_.on_close) options_.on_close(fd);
      close(fd);
      return;
    }
    tls = std::make_unique<TlsSocket>(options_.tls->Current(), fd);
  }
  auto connection = std::make_unique<H2Connection>(
      *loop.loop, loop.index, fd, std::move(peer), methods_, options_.connection,
      [this, &loop](H2Connection* closed) {
        open_.fetch_sub(1, std::memory_order_relaxed);
        // Destroyed after the tasks already posted (they may name it).
        loop.loop->Post([&loop, closed] { loop.connections.erase(closed); });
      },
      std::move(tls));
  H2Connection* raw = connection.get();
  loop.connections.emplace(raw, std::move(connection));
  open_.fetch_add(1, std::memory_order_relaxed);
  if (absl::Status started = raw->Start(); !started.ok()) {
    spdlog::error("transport: cannot serve connection {}: {}", raw->peer(), started.ToString());
    raw->Close("it could not start");
    return;
  }
  if (draining_.load(std::memory_order_acquire)) raw->GoAway("jawlb is shutting down");
}

void H2Server::WriteMetrics(metrics::TextWriter& out) const {
  out.Gauge("jawlb_h2_connections", "Client connections open on jawlb's HTTP/2 server.",
            static_cast<double>(connections()));
  out.Counter("jawlb_h2_goaways_total",
              "Connections sent away (the final GOAWAY): drain, maximum age, idle.",
              static_cast<double>(counters_.goaways.load(std::memory_order_relaxed)));
  out.Counter("jawlb_h2_streams_refused_total",
              "Streams refused (REFUSED_STREAM): over JAWLB_MAXSTREAMSPERCONNECTION on one "
              "connection.",
              static_cast<double>(counters_.streams_refused.load(std::memory_order_relaxed)));
  out.Counter("jawlb_h2_connections_cut_total",
              "Connections cut (GOAWAY ENHANCE_YOUR_CALM) for opening streams past the limit "
              "again and again.",
              static_cast<double>(counters_.connections_cut.load(std::memory_order_relaxed)));
  if (options_.tls == nullptr) return;
  out.Gauge("jawlb_tls_handshakes", "TLS handshakes under way on the gRPC port.",
            static_cast<double>(counters_.tls_handshakes.load(std::memory_order_relaxed)));
  out.Counter("jawlb_tls_handshake_failures_total",
              "TLS handshakes that failed (no common protocol, no or a bad client certificate, "
              "not TLS) or did not end within JAWLB_TLSHANDSHAKETIMEOUT.",
              static_cast<double>(counters_.tls_failed.load(std::memory_order_relaxed)));
  out.Counter("jawlb_tls_connections_refused_total",
              "Connections closed before their handshake: JAWLB_MAXTLSHANDSHAKES were under way.",
              static_cast<double>(counters_.tls_refused.load(std::memory_order_relaxed)));
}

void H2Server::Drain() {
  if (draining_.exchange(true)) return;
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    raw->loop->Post([raw] {
      for (auto& [pointer, connection] : raw->connections) {
        connection->GoAway("jawlb is shutting down");
      }
    });
  }
}

void H2Server::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    raw->loop->Post([raw] {
      std::vector<H2Connection*> open;
      for (auto& [pointer, connection] : raw->connections) open.push_back(pointer);
      for (H2Connection* connection : open) connection->Shutdown();
    });
  }
  for (auto& loop : loops_) loop->loop->Stop();
  for (auto& loop : loops_) loop->connections.clear();
}

}  // namespace jawlb::transport
