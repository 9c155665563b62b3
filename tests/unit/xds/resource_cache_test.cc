#include "xds/resource_cache.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "xds/resources.h"

namespace jawlb::xds {
namespace {

std::string Bytes(const transport::SharedBytes& bytes) { return *bytes; }

TEST(ResourceCacheTest, EachResourceIsEncodedOnceAndShared) {
  ResourceCache cache(/*load_reports=*/true);
  const transport::SharedBytes first = cache.Listener("echo:50051", "prod/echo");
  const transport::SharedBytes again = cache.Listener("echo:50051", "prod/echo");
  EXPECT_EQ(first, again) << "the same bytes, not a copy";
  EXPECT_EQ(Bytes(first), ListenerResource("echo:50051", "prod/echo"));
  EXPECT_EQ(Bytes(cache.Route("prod/echo")), RouteResource("prod/echo", "prod/echo"));
  EXPECT_EQ(Bytes(cache.Cluster("prod/echo")), ClusterResource("prod/echo", true));
  EXPECT_EQ(cache.Route("prod/echo"), cache.Route("prod/echo"));
  EXPECT_EQ(cache.size(), 3u);
  // A listener of another cluster, or with the same bytes split otherwise, is
  // another entry.
  EXPECT_EQ(Bytes(cache.Listener("echo:50051", "prod/other")),
            ListenerResource("echo:50051", "prod/other"));
  EXPECT_EQ(Bytes(cache.Listener("echo:5005", "1prod/echo")),
            ListenerResource("echo:5005", "1prod/echo"));
  EXPECT_EQ(cache.size(), 5u);
  EXPECT_EQ(Bytes(ResourceCache(false).Cluster("c")), ClusterResource("c", false));
}

TEST(ResourceCacheTest, PastItsBoundItStillAnswersButKeepsNoMore) {
  ResourceCache cache(false);
  for (size_t i = 0; i < ResourceCache::kMaxEntries + 10; ++i) {
    const std::string name = absl::StrCat("name-", i);
    EXPECT_EQ(Bytes(cache.Route(name)), RouteResource(name, name));
  }
  EXPECT_EQ(cache.size(), ResourceCache::kMaxEntries);
}

}  // namespace
}  // namespace jawlb::xds
