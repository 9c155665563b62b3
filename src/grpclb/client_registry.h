// ClientRegistry: who is connected right now. Every BalanceLoad stream
// registers itself for its lifetime; Clients() describes them all (peer, the
// name it asked for, what it was last sent, the load it reported), for
// operators and tests.
//
// Clients are held weakly and asked to describe themselves only when someone
// looks, so streams pay nothing per update for being listed. The drain goes
// through here too: DrainAll() asks every client to end.
//
// Threading: thread-safe. Register() and destroying the Registration run on
// the transport's threads; Clients() on any thread, calling Describe() with no
// registry lock held.
#ifndef JAWLB_GRPCLB_CLIENT_REGISTRY_H_
#define JAWLB_GRPCLB_CLIENT_REGISTRY_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "balancer/client_load.h"
#include "grpclb/weak_set.h"

namespace jawlb::grpclb {

struct ClientInfo {
  std::string peer;     // "ipv4:10.1.2.3:40000"
  std::string name;     // InitialLoadBalanceRequest.name; "" until it arrives
  std::string service;  // multi mode: "namespace/name" it was routed to
  absl::Time connected;
  uint64_t list_version = 0;  // version of the last list written; 0 = none yet
  size_t list_size = 0;       // backends in it
  uint64_t token_client = 0;  // its number in load_balance_tokens; 0: the shared list
  balancer::ClientLoad load;  // what it reported
  balancer::CallRates rates;  // its smoothed rates now
  // xDS clients: the node id of their bootstrap and, per resource type they
  // asked for, what they acknowledged and refused (empty for grpclb).
  struct XdsType {
    std::string type;  // "listener", "route", "cluster", "endpoints"
    std::string acked_version;
    std::string last_nack;  // the error of the last NACK since the last ACK
    uint64_t acks = 0;
    uint64_t nacks = 0;
  };
  std::string node;
  std::string locality;    // the node's "region/zone/sub_zone"
  std::string user_agent;  // the node's user_agent_name and version ("gRPC Node 1.14.1")
  std::vector<XdsType> xds;
};

class ClientRegistry {
 public:
  class Client {
   public:
    virtual ~Client() = default;
    virtual ClientInfo Describe() const = 0;
    // End the stream (UNAVAILABLE: reconnect elsewhere) once its write in
    // flight is done. Must not block.
    virtual void Drain() = 0;
  };
  using Registration = WeakSet<Client>::Membership;

  // REQUIRES: the Registration does not outlive the registry.
  [[nodiscard]] std::unique_ptr<Registration> Register(std::weak_ptr<Client> client) {
    return clients_.Add(std::move(client));
  }

  // Asks every listed client to end (with no registry lock held).
  void DrainAll() {
    for (const auto& client : clients_.Live()) client->Drain();
  }

  // Every listed client, in order of connection.
  std::vector<ClientInfo> Clients() const {
    std::vector<ClientInfo> infos;
    for (const auto& client : clients_.Live()) infos.push_back(client->Describe());
    std::stable_sort(infos.begin(), infos.end(), [](const ClientInfo& a, const ClientInfo& b) {
      return a.connected < b.connected;
    });
    return infos;
  }
  size_t size() const { return clients_.size(); }

 private:
  WeakSet<Client> clients_;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_CLIENT_REGISTRY_H_
