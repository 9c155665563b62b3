#include "discovery/backend_set.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::discovery {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

TEST(BackendTest, ParsesIpv4AsFourBytes) {
  absl::StatusOr<Backend> backend = ParseBackend("10.1.2.3:50051");
  ASSERT_THAT(backend, IsOk());
  EXPECT_EQ(backend->ip, std::string("\x0a\x01\x02\x03", 4));
  EXPECT_EQ(backend->port, 50051);
  EXPECT_EQ(backend->ToString(), "10.1.2.3:50051");
}

TEST(BackendTest, ParsesIpv6AsSixteenBytes) {
  absl::StatusOr<Backend> backend = ParseBackend("[fd00::7]:80");
  ASSERT_THAT(backend, IsOk());
  ASSERT_EQ(backend->ip.size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(backend->ip[0]), 0xfd);
  EXPECT_EQ(static_cast<unsigned char>(backend->ip[15]), 0x07);
  EXPECT_EQ(backend->ToString(), "[fd00::7]:80");
}

TEST(BackendTest, StoresIpv4MappedIpv6AsIpv4) {
  absl::StatusOr<Backend> backend = ParseBackend("[::ffff:10.0.0.9]:80");
  ASSERT_THAT(backend, IsOk());
  EXPECT_EQ(backend->ip, std::string("\x0a\x00\x00\x09", 4));
  EXPECT_EQ(*backend, *ParseBackend("10.0.0.9:80"));
}

TEST(BackendTest, RefusesWhatIsNotAnAddressAndPort) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c :
       {Case{"10.0.0.1", "found no port"}, Case{"10.0.0.1:", "port \"\""},
        Case{"10.0.0.1:0", "from 1 to 65535"}, Case{"10.0.0.1:65536", "from 1 to 65535"},
        Case{"10.0.0.1:http", "port \"http\""}, Case{"myhost:80", "not an IPv4 or IPv6 address"},
        Case{"10.0.0.256:80", "not an IPv4 or IPv6 address"}, Case{"fd00::1:80", "need brackets"},
        Case{"[fd00::1:80", "missing ']'"}, Case{"[fd00::1]80", "want [ipv6]:port"},
        // Addresses no call can go to (issue 13, item 13).
        Case{"0.0.0.0:80", "this network"}, Case{"0.1.2.3:80", "this network"},
        Case{"[::]:80", ":: is not an address"}, Case{"[::ffff:0.0.0.0]:80", "this network"},
        Case{"255.255.255.255:80", "broadcast"}, Case{"224.0.0.1:80", "multicast"},
        Case{"239.255.255.250:80", "multicast"}, Case{"[ff02::1]:80", "multicast"}}) {
    EXPECT_THAT(ParseBackend(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr(c.text), HasSubstr(c.why))))
        << c.text;
  }
}

TEST(BackendSetTest, SortsAndDeduplicates) {
  const BackendSet set({*ParseBackend("10.0.0.2:80"), *ParseBackend("[fd00::1]:80"),
                        *ParseBackend("10.0.0.1:81"), *ParseBackend("10.0.0.2:80"),
                        *ParseBackend("10.0.0.1:80")});
  EXPECT_EQ(set.ToString(), "10.0.0.1:80,10.0.0.1:81,10.0.0.2:80,[fd00::1]:80");
  EXPECT_EQ(set.size(), 4u);
}

TEST(BackendSetTest, EqualSetsCompareEqualWhateverTheInputOrder) {
  EXPECT_EQ(*ParseBackendList("10.0.0.1:80,10.0.0.2:80"),
            *ParseBackendList("10.0.0.2:80 10.0.0.1:80 10.0.0.1:80"));
  EXPECT_NE(*ParseBackendList("10.0.0.1:80"), *ParseBackendList("10.0.0.1:81"));
}

TEST(BackendSetTest, ParsesListsWithCommentsAndBlankLines) {
  absl::StatusOr<BackendSet> set =
      ParseBackendList("# backends\n10.0.0.1:80, 10.0.0.2:80\n\n  [fd00::1]:80   # the v6 one\n");
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->ToString(), "10.0.0.1:80,10.0.0.2:80,[fd00::1]:80");
}

TEST(BackendSetTest, EmptyListIsValidAndEmpty) {
  absl::StatusOr<BackendSet> set = ParseBackendList("# nothing yet\n\n");
  ASSERT_THAT(set, IsOk());
  EXPECT_TRUE(set->empty());
  EXPECT_EQ(set->ToString(), "(none)");
}

TEST(BackendSetTest, DescribesChangesAsADiff) {
  EXPECT_EQ(DescribeChange(*ParseBackendList("10.0.0.1:80 10.0.0.3:80"),
                           *ParseBackendList("10.0.0.1:80 10.0.0.2:80 [fd00::1]:80")),
            "+10.0.0.2:80 -10.0.0.3:80 +[fd00::1]:80");
  EXPECT_EQ(DescribeChange(BackendSet(), *ParseBackendList("10.0.0.1:80")), "+10.0.0.1:80");
  EXPECT_EQ(DescribeChange(*ParseBackendList("10.0.0.1:80"), BackendSet()), "-10.0.0.1:80");
  EXPECT_EQ(DescribeChange(BackendSet(), BackendSet()), "(no change)");
  EXPECT_EQ(DescribeChange(BackendSet(), *ParseBackendList("10.0.0.1:1 10.0.0.1:2 10.0.0.1:3"), 2),
            "+10.0.0.1:1 +10.0.0.1:2 ... and 1 more");
}

TEST(BackendSetTest, ErrorsNameTheLine) {
  EXPECT_THAT(ParseBackendList("10.0.0.1:80\n10.0.0.2:80\nnope\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3: endpoint \"nope\"")));
}

TEST(BackendSetTest, WeightsBelongToTheSetAndCountInEquality) {
  const std::vector<Backend> backends = ParseBackendList("10.0.0.1:1 10.0.0.2:1")->backends();
  const Backend first = backends[0];
  const Backend absent = *MakeBackend("10.0.0.9", 1);
  const BackendSet weighted(backends, {{first, 3}, {absent, 5}});
  EXPECT_EQ(weighted.WeightOf(first), 3u);
  EXPECT_EQ(weighted.WeightOf(backends[1]), 1u);
  EXPECT_EQ(weighted.weights().size(), 1u);  // the absent one is dropped
  EXPECT_EQ(weighted.ToString(), "10.0.0.1:1*3,10.0.0.2:1");
  EXPECT_NE(weighted, BackendSet(backends));
  EXPECT_EQ(BackendSet(backends, {{first, 1}}), BackendSet(backends));  // 1 is no weight
  EXPECT_EQ(BackendSet(backends, {{first, 0}}), BackendSet(backends));
  EXPECT_EQ(BackendSet(backends, {{first, 1000}}).WeightOf(first), BackendSet::kMaxWeight);
  EXPECT_EQ(DescribeChange(BackendSet(backends), weighted), "~10.0.0.1:1*3");
}

TEST(BackendSetTest, ZonesBelongToTheSetAndSurviveRestriction) {
  const std::vector<Backend> backends =
      ParseBackendList("10.0.0.1:1 10.0.0.2:1 10.0.0.3:1")->backends();
  const Backend absent = *MakeBackend("10.0.0.9", 1);
  const BackendSet zoned(backends, {{backends[2], 4}},
                         {{backends[0], "eu-west-1a"}, {backends[1], ""}, {absent, "eu-west-1c"}});
  EXPECT_EQ(zoned.ZoneOf(backends[0]), "eu-west-1a");
  EXPECT_EQ(zoned.ZoneOf(backends[1]), "");                    // empty: unknown
  EXPECT_EQ(zoned.zones().size(), 1u);                         // and the absent one dropped
  EXPECT_NE(zoned, BackendSet(backends, {{backends[2], 4}}));  // a zone is part of the set
  // A restriction keeps the weights and zones of what it keeps, and only
  // backends of the set.
  const BackendSet restricted = zoned.Restrict({backends[2], backends[0], absent});
  EXPECT_EQ(restricted.ToString(), "10.0.0.1:1,10.0.0.3:1*4");
  EXPECT_EQ(restricted.ZoneOf(backends[0]), "eu-west-1a");
  EXPECT_EQ(restricted.WeightOf(backends[2]), 4u);
}

}  // namespace
}  // namespace jawlb::discovery
