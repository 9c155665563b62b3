#include "xds/resource_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "xds/resources.h"

namespace jawlb::xds {

transport::SharedBytes ResourceCache::Listener(const std::string& name,
                                               const std::string& cluster) {
  // The name's length first: no two (name, cluster) pairs share a key.
  return Get(absl::StrCat("L", name.size(), ":", name, cluster),
             [&] { return ListenerResource(name, cluster); });
}

transport::SharedBytes ResourceCache::Route(const std::string& name) {
  return Get(absl::StrCat("R", name), [&] { return RouteResource(name, name); });
}

transport::SharedBytes ResourceCache::Cluster(const std::string& name) {
  return Get(absl::StrCat("C", name), [&] { return ClusterResource(name, load_reports_); });
}

size_t ResourceCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

transport::SharedBytes ResourceCache::Get(const std::string& key,
                                          absl::FunctionRef<std::string()> encode) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  }
  transport::SharedBytes encoded = std::make_shared<const std::string>(
      encode());  // outside the lock: two streams may both encode once
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) return encoded;
  return entries_.try_emplace(key, std::move(encoded)).first->second;
}

}  // namespace jawlb::xds
