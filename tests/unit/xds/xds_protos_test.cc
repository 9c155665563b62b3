// Our xDS protos (proto/envoy, proto/google/rpc) are a wire-compatible subset
// of the real ones: every message, field, enum value and method we define is
// held against the reference protos that grpc-js-xds ships (installed by
// scripts/install-deps.sh into tests/xds/node), compiled here with protoc.
// The same full names (type URLs are built from them), field numbers, types,
// repeatedness and message/enum types; the same enum numbers; the same
// methods and streaming.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"

namespace jawlb::xds {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptorSet;
using google::protobuf::ServiceDescriptor;

// The reference files whose imports cover every type we define.
constexpr const char* kReferenceRoots[] = {
    "envoy/service/discovery/v3/ads.proto",
    "envoy/service/load_stats/v3/lrs.proto",
    "envoy/config/listener/v3/listener.proto",
    "envoy/config/route/v3/route.proto",
    "envoy/config/cluster/v3/cluster.proto",
    "envoy/config/endpoint/v3/endpoint.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
};

bool Load(const std::string& path, DescriptorPool& pool) {
  std::ifstream in(path, std::ios::binary);
  FileDescriptorSet set;
  if (!in || !set.ParseFromIstream(&in)) return false;
  for (const auto& file : set.file()) {
    if (pool.BuildFile(file) == nullptr) return false;
  }
  return true;
}

// The reference protos, compiled into a descriptor set (in a scratch copy:
// the validate.proto grpc-js-xds ships predates an option one envoy file uses).
std::string CompileReference() {
  const fs::path deps = XDS_REFERENCE_DIR;
  if (!fs::exists(deps / "envoy-api")) return "";
  const fs::path scratch = testbed::MakeTempDir("xds_protos_test.");
  for (const auto& [from, what] :
       std::vector<std::pair<fs::path, const char*>>{{deps / "envoy-api", "envoy"},
                                                     {deps / "xds", "xds"},
                                                     {deps / "xds", "udpa"},
                                                     {deps / "protoc-gen-validate", "validate"},
                                                     {deps / "googleapis", "google"}}) {
    fs::copy(from / what, scratch / what, fs::copy_options::recursive);
  }
  const fs::path protocol = scratch / "envoy/config/core/v3/protocol.proto";
  std::stringstream text;
  text << std::ifstream(protocol).rdbuf();
  std::ofstream(protocol, std::ios::trunc)
      << absl::StrReplaceAll(text.str(), {{" ignore_empty: true", ""}});
  const std::string out = (scratch / "reference.pb").string();
  std::vector<std::string> roots(std::begin(kReferenceRoots), std::end(kReferenceRoots));
  const std::string command =
      absl::StrCat("cd ", scratch.string(), " && ", PROTOC, " --proto_path=. --include_imports",
                   " --descriptor_set_out=", out, " ", absl::StrJoin(roots, " "), " 2>&1");
  if (std::system(command.c_str()) != 0) return "";
  return out;
}

class XdsProtosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Load(XDS_SUBSET_DESCRIPTORS, ours_)) << XDS_SUBSET_DESCRIPTORS;
    const std::string reference = CompileReference();
    ASSERT_FALSE(reference.empty())
        << "the reference protos did not compile (is tests/xds/node installed? "
           "scripts/install-deps.sh)";
    ASSERT_TRUE(Load(reference, reference_));
  }

  // Every file of ours but the well-known types.
  std::vector<const google::protobuf::FileDescriptor*> OurFiles() const {
    std::vector<const google::protobuf::FileDescriptor*> files;
    std::ifstream in(XDS_SUBSET_DESCRIPTORS, std::ios::binary);
    FileDescriptorSet set;
    set.ParseFromIstream(&in);
    for (const auto& file : set.file()) {
      if (absl::StartsWith(file.name(), "google/protobuf/")) continue;
      files.push_back(ours_.FindFileByName(file.name()));
    }
    return files;
  }

  void CompareEnum(const EnumDescriptor& mine) {
    const EnumDescriptor* theirs = reference_.FindEnumTypeByName(mine.full_name());
    ASSERT_NE(theirs, nullptr) << "no enum " << mine.full_name();
    for (int i = 0; i < mine.value_count(); ++i) {
      const auto* value = theirs->FindValueByName(mine.value(i)->name());
      ASSERT_NE(value, nullptr) << mine.full_name() << "." << mine.value(i)->name();
      EXPECT_EQ(value->number(), mine.value(i)->number()) << value->full_name();
      ++checked_;
    }
  }

  void CompareMessage(const Descriptor& mine) {
    const Descriptor* theirs = reference_.FindMessageTypeByName(mine.full_name());
    ASSERT_NE(theirs, nullptr) << "no message " << mine.full_name();
    for (int i = 0; i < mine.field_count(); ++i) {
      const FieldDescriptor& field = *mine.field(i);
      const FieldDescriptor* other = theirs->FindFieldByNumber(field.number());
      ASSERT_NE(other, nullptr) << field.full_name() << " = " << field.number();
      EXPECT_EQ(other->name(), field.name()) << field.full_name();
      EXPECT_EQ(other->type(), field.type()) << field.full_name();
      EXPECT_EQ(other->is_repeated(), field.is_repeated()) << field.full_name();
      if (field.message_type() != nullptr) {
        EXPECT_EQ(other->message_type()->full_name(), field.message_type()->full_name())
            << field.full_name();
      }
      if (field.enum_type() != nullptr) {
        EXPECT_EQ(other->enum_type()->full_name(), field.enum_type()->full_name())
            << field.full_name();
      }
      ++checked_;
    }
    for (int i = 0; i < mine.nested_type_count(); ++i) CompareMessage(*mine.nested_type(i));
    for (int i = 0; i < mine.enum_type_count(); ++i) CompareEnum(*mine.enum_type(i));
  }

  void CompareService(const ServiceDescriptor& mine) {
    const ServiceDescriptor* theirs = reference_.FindServiceByName(mine.full_name());
    ASSERT_NE(theirs, nullptr) << "no service " << mine.full_name();
    for (int i = 0; i < mine.method_count(); ++i) {
      const auto& method = *mine.method(i);
      const auto* other = theirs->FindMethodByName(method.name());
      ASSERT_NE(other, nullptr) << method.full_name();
      EXPECT_EQ(other->input_type()->full_name(), method.input_type()->full_name());
      EXPECT_EQ(other->output_type()->full_name(), method.output_type()->full_name());
      EXPECT_EQ(other->client_streaming(), method.client_streaming());
      EXPECT_EQ(other->server_streaming(), method.server_streaming());
      ++checked_;
    }
  }

  DescriptorPool ours_;
  DescriptorPool reference_;
  int checked_ = 0;
};

TEST_F(XdsProtosTest, OurSubsetMatchesTheReferenceOnTheWire) {
  for (const auto* file : OurFiles()) {
    ASSERT_NE(file, nullptr);
    for (int i = 0; i < file->message_type_count(); ++i) CompareMessage(*file->message_type(i));
    for (int i = 0; i < file->enum_type_count(); ++i) CompareEnum(*file->enum_type(i));
    for (int i = 0; i < file->service_count(); ++i) CompareService(*file->service(i));
  }
  // Something was compared: every field, value and method we define.
  EXPECT_GT(checked_, 100);
}

}  // namespace
}  // namespace jawlb::xds
