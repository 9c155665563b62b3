#include "discovery/endpoints_decoder.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "discovery/backend_set.h"
#include "tests/common/status_matchers.h"

namespace jawlb::discovery {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Decodes `json` and returns the backends as "ip:port" strings, sorted.
struct Decoded {
  std::vector<std::string> backends;
  std::vector<std::string> warnings;
  // Every described endpoint: "10.0.0.1:50051 RST+ pod" with R(eady), S(erving),
  // T(erminating) or '-', then + when sent, - when not.
  std::vector<std::string> endpoints;
};

absl::StatusOr<Decoded> Decode(EndpointsApi api, const std::string& json,
                               const std::string& port = "grpc") {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json).get(element) != simdjson::SUCCESS) {
    return absl::InternalError("test JSON does not parse");
  }
  absl::StatusOr<DecodedObject> object = DecodeEndpointsObject(api, element, port);
  if (!object.ok()) return object.status();
  Decoded decoded;
  const BackendSet set(object->backends);
  for (const Backend& backend : set.backends()) {
    decoded.backends.push_back(backend.ToString());
  }
  decoded.warnings = object->warnings;
  for (const EndpointState& e : object->endpoints) {
    decoded.endpoints.push_back(absl::StrCat(e.address, " ", e.ready ? "R" : "-",
                                             e.serving ? "S" : "-", e.terminating ? "T" : "-",
                                             e.used ? "+" : "-", e.pod.empty() ? "" : " ", e.pod));
  }
  return decoded;
}

absl::StatusOr<Decoded> Slice(const std::string& endpoints, const std::string& extra = "",
                              const std::string& port = "grpc") {
  return Decode(EndpointsApi::kEndpointSlices,
                R"({"metadata":{"name":"svc-abc"},"addressType":"IPv4",)"
                R"("ports":[{"name":"http","port":8080},{"name":"grpc","port":50051}],)" +
                    extra + R"("endpoints":)" + endpoints + "}",
                port);
}

TEST(EndpointsDecoderTest, ReadyEndpointsOnTheNamedPort) {
  absl::StatusOr<Decoded> decoded = Slice(
      R"([{"addresses":["10.0.0.2"],"conditions":{"ready":true}},
          {"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false}}])");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.1:50051", "10.0.0.2:50051"));
  EXPECT_THAT(decoded->warnings, IsEmpty());
}

TEST(EndpointsDecoderTest, AbsentConditionsMeanReady) {
  absl::StatusOr<Decoded> decoded =
      Slice(R"([{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.2"],"conditions":{}}])");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.1:50051", "10.0.0.2:50051"));
}

TEST(EndpointsDecoderTest, NotReadyAndTerminatingAreLeftOut) {
  absl::StatusOr<Decoded> decoded = Slice(
      R"([{"addresses":["10.0.0.1"],"conditions":{"ready":false,"serving":false}},
          {"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true,"terminating":true}},
          {"addresses":["10.0.0.3"],"conditions":{"ready":true,"terminating":true}},
          {"addresses":["10.0.0.4"],"conditions":{"ready":true}}])");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.4:50051"));
  // Serving but terminating is worth a word to the operator (serving absent
  // counts as equal to ready).
  EXPECT_THAT(decoded->warnings, ElementsAre(HasSubstr("10.0.0.2 is serving but terminating"),
                                             HasSubstr("10.0.0.3 is serving but terminating")));
  // The state page still shows each of them, with why it is left out.
  EXPECT_THAT(decoded->endpoints, ElementsAre("10.0.0.1:50051 ----", "10.0.0.2:50051 -ST-",
                                              "10.0.0.3:50051 RST-", "10.0.0.4:50051 RS-+"));
}

TEST(EndpointsDecoderTest, EndpointsAreDescribedWithTheirPods) {
  absl::StatusOr<Decoded> decoded = Slice(
      R"([{"addresses":["10.0.0.1"],"conditions":{"ready":true},
           "targetRef":{"kind":"Pod","name":"echo-7d4b9","namespace":"prod"}},
          {"addresses":["10.0.0.2"],"targetRef":{"kind":"Node","name":"n1"}}])");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->endpoints,
              ElementsAre("10.0.0.1:50051 RS-+ echo-7d4b9", "10.0.0.2:50051 RS-+"));
  // A slice without the port: listed, with port 0, and not sent.
  decoded = Slice(R"([{"addresses":["10.0.0.1"]}])", "", "metrics");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->endpoints, ElementsAre("10.0.0.1:0 RS--"));
}

TEST(EndpointsDecoderTest, NumericTargetPortIsThePortNumber) {
  absl::StatusOr<Decoded> decoded = Slice(R"([{"addresses":["10.0.0.1"]}])", "", "9000");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.1:9000"));
}

TEST(EndpointsDecoderTest, MissingPortNameContributesNothingWithAWarning) {
  absl::StatusOr<Decoded> decoded = Slice(R"([{"addresses":["10.0.0.1"]}])", "", "metrics");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, IsEmpty());
  EXPECT_THAT(decoded->warnings,
              ElementsAre(HasSubstr("no port named \"metrics\" (ports: http, grpc)")));
}

TEST(EndpointsDecoderTest, Ipv6SlicesAndFqdnSlices) {
  absl::StatusOr<Decoded> v6 =
      Decode(EndpointsApi::kEndpointSlices,
             R"({"metadata":{"name":"v6"},"addressType":"IPv6","ports":[{"name":"grpc","port":80}],
          "endpoints":[{"addresses":["fd00::1"]}]})");
  ASSERT_THAT(v6, IsOk());
  EXPECT_THAT(v6->backends, ElementsAre("[fd00::1]:80"));
  absl::StatusOr<Decoded> fqdn =
      Decode(EndpointsApi::kEndpointSlices,
             R"({"metadata":{"name":"ext"},"addressType":"FQDN","ports":[{"name":"grpc","port":80}],
          "endpoints":[{"addresses":["example.com"]}]})");
  ASSERT_THAT(fqdn, IsOk());
  EXPECT_THAT(fqdn->backends, IsEmpty());
  EXPECT_THAT(fqdn->warnings, ElementsAre(HasSubstr("addressType FQDN")));
}

TEST(EndpointsDecoderTest, EmptyAndNullEndpoints) {
  EXPECT_THAT(Slice("[]")->backends, IsEmpty());
  EXPECT_THAT(Slice("null")->backends, IsEmpty());
}

TEST(EndpointsDecoderTest, BadAddressesAreSkippedWithAWarning) {
  absl::StatusOr<Decoded> decoded = Slice(R"([{"addresses":["10.0.0.1","nonsense"]}])");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.1:50051"));
  EXPECT_THAT(decoded->warnings, ElementsAre(HasSubstr("\"nonsense\"")));
}

TEST(EndpointsDecoderTest, MalformedObjectsAreErrorsNamingTheObject) {
  EXPECT_THAT(Decode(EndpointsApi::kEndpointSlices, R"({"addressType":"IPv4"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.name")));
  EXPECT_THAT(Decode(EndpointsApi::kEndpointSlices, R"({"metadata":{"name":"x"}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"x\": addressType")));
  EXPECT_THAT(Slice(R"({"not":"a list"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoints is not a list")));
  EXPECT_THAT(Slice(R"([{"addresses":[42]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a string")));
}

TEST(EndpointsDecoderTest, LegacyEndpointsUseAddressesNeverNotReadyAddresses) {
  absl::StatusOr<Decoded> decoded = Decode(EndpointsApi::kEndpoints, R"({
      "metadata":{"name":"svc"},
      "subsets":[
        {"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],
         "notReadyAddresses":[{"ip":"10.0.0.9"}],
         "ports":[{"name":"grpc","port":50051}]},
        {"addresses":[{"ip":"10.0.1.1"}],"ports":[{"name":"grpc","port":6000},{"name":"x","port":1}]},
        {"addresses":[{"ip":"10.0.2.1"}],"ports":[{"name":"other","port":7000}]}]})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_THAT(decoded->backends, ElementsAre("10.0.0.1:50051", "10.0.0.2:50051", "10.0.1.1:6000"));
  EXPECT_THAT(decoded->warnings, ElementsAre(HasSubstr("no port named \"grpc\" (ports: other)")));
  EXPECT_THAT(decoded->endpoints,
              ElementsAre("10.0.0.9:50051 ----", "10.0.0.1:50051 RS-+", "10.0.0.2:50051 RS-+",
                          "10.0.1.1:6000 RS-+", "10.0.2.1:0 RS--"));
}

DecodedObject DecodeWeighted(EndpointsApi api, const std::string& annotation) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  const std::string json =
      api == EndpointsApi::kEndpointSlices
          ? R"({"metadata":{"name":"svc-big","annotations":{"jawlb.io/weight":)" + annotation +
                R"(}},"addressType":"IPv4","ports":[{"name":"grpc","port":1}],)"
                R"("endpoints":[{"addresses":["10.0.0.1"]}]})"
          : R"({"metadata":{"name":"svc","annotations":{"jawlb.io/weight":)" + annotation +
                R"(}},"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"name":"grpc","port":1}]}]})";
  EXPECT_EQ(parser.parse(json).get(element), simdjson::SUCCESS) << json;
  absl::StatusOr<DecodedObject> object = DecodeEndpointsObject(api, element, "grpc");
  EXPECT_THAT(object, IsOk());
  return object.ok() ? *object : DecodedObject{};
}

TEST(EndpointsDecoderTest, TheWeightAnnotationWeighsEveryBackendOfTheObject) {
  EXPECT_EQ(DecodeWeighted(EndpointsApi::kEndpointSlices, R"("3")").weight, 3u);
  EXPECT_EQ(DecodeWeighted(EndpointsApi::kEndpoints, R"("7")").weight, 7u);
  EXPECT_EQ(DecodeWeighted(EndpointsApi::kEndpointSlices, R"("100")").weight, 100u);
  for (const char* bad : {R"("0")", R"("101")", R"("-2")", R"("two")", R"("1.5")"}) {
    const DecodedObject object = DecodeWeighted(EndpointsApi::kEndpointSlices, bad);
    EXPECT_EQ(object.weight, 1u) << bad;
    EXPECT_THAT(object.backends, ::testing::SizeIs(1)) << "the backends still count";
    ASSERT_THAT(object.warnings, ::testing::SizeIs(1)) << bad;
    EXPECT_THAT(object.warnings[0], HasSubstr("EndpointSlice svc-big: annotation jawlb.io/weight"));
  }
  // Not a string (annotations always are): ignored like any other odd field.
  EXPECT_EQ(DecodeWeighted(EndpointsApi::kEndpointSlices, "3").weight, 1u);
}

TEST(EndpointsDecoderTest, AnEndpointsZoneGoesWithItsBackends) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  const std::string json =
      R"({"metadata":{"name":"svc-abc"},"addressType":"IPv4","ports":[{"name":"grpc","port":5}],)"
      R"("endpoints":[{"addresses":["10.0.0.1"],"zone":"eu-west-1a"},)"
      R"({"addresses":["10.0.0.2"],"zone":null},)"
      R"({"addresses":["10.0.0.3"],"zone":7},)"
      R"({"addresses":["10.0.0.4"],"zone":")" +
      std::string(kMaxZoneBytes + 1, 'z') +
      R"("},)"
      R"({"addresses":["10.0.0.5"],"zone":"eu-west-1b","conditions":{"ready":false}}]})";
  ASSERT_EQ(parser.parse(json).get(element), simdjson::SUCCESS);
  absl::StatusOr<DecodedObject> object =
      DecodeEndpointsObject(EndpointsApi::kEndpointSlices, element, "grpc");
  ASSERT_THAT(object, IsOk());
  EXPECT_EQ(object->backends.size(), 4u);
  // Only used backends with a usable zone; the rest count, zoneless.
  ASSERT_EQ(object->zones.size(), 1u);
  EXPECT_EQ(object->zones.begin()->first.ToString(), "10.0.0.1:5");
  EXPECT_EQ(object->zones.begin()->second, "eu-west-1a");
  EXPECT_THAT(object->warnings, ElementsAre(HasSubstr("zone is not a string"),
                                            HasSubstr("zone of 129 bytes is ignored")));
  // The state page shows the zone of every endpoint that has one.
  EXPECT_EQ(object->endpoints[0].zone, "eu-west-1a");
  EXPECT_EQ(object->endpoints.back().zone, "eu-west-1b");
}

}  // namespace
}  // namespace jawlb::discovery
