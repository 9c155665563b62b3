// ResourceCache: the Listener, RouteConfiguration and Cluster resources of
// this process, each encoded once and shared by every stream that sends it.
// They are pure functions of their names (a listener of the name the client
// dialed and the cluster it resolves to; a route and a cluster of the
// cluster's name; whether clusters ask for load reports is fixed per
// process), so an entry never goes stale and is never replaced.
//
// Names come from clients: at most kMaxEntries are kept (the first ones
// asked for); past that a resource is encoded for its response alone, which
// costs time, never correctness.
//
// Threading: thread-safe (one mutex, a leaf: nothing is called under it but
// the encoding).
#ifndef JAWLB_XDS_RESOURCE_CACHE_H_
#define JAWLB_XDS_RESOURCE_CACHE_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

#include "transport/server_call.h"

namespace jawlb::xds {

class ResourceCache {
 public:
  static constexpr size_t kMaxEntries = 4096;

  // `load_reports`: Clusters name `lrs_server: self`.
  explicit ResourceCache(bool load_reports) : load_reports_(load_reports) {}

  // Each as a serialized google.protobuf.Any (resources.h).
  transport::SharedBytes Listener(const std::string& name, const std::string& cluster)
      ABSL_LOCKS_EXCLUDED(mu_);
  transport::SharedBytes Route(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  transport::SharedBytes Cluster(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  transport::SharedBytes Get(const std::string& key, absl::FunctionRef<std::string()> encode)
      ABSL_LOCKS_EXCLUDED(mu_);

  const bool load_reports_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, transport::SharedBytes> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_RESOURCE_CACHE_H_
