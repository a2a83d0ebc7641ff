// The gateway's JSON printer against protobuf's MessageToJsonString: random messages of every
// type the gateway's routes answer with and of a proto with every kind of field must print
// byte for byte the same, with and without emit_defaults; every code point must be escaped
// the same; and a route's response_body member prints as that member's JSON.

#include "services/gateway/json_printer.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/fronted_services.h"
#include "services/gateway/route_table.h"
#include "services/gateway/transcoder.h"
#include "testdata/gateway_test.pb.h"
#include "testdata/json_printer_test.pb.h"

namespace clerkship::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MessageFactory;
using google::protobuf::Reflection;
using gatewaytest::v1::AllKinds;
using gatewaytest::v1::Delegated;

// What the gateway did before: protobuf's printer with the gateway's options.
absl::StatusOr<std::string> Reference(const Message& message, bool emit_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = emit_defaults;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  return out;
}

std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

struct GeneratorOptions {
  // Timestamps and durations protobuf refuses to print, and FieldMask paths that are not
  // lower_snake_case: the printer hands those messages to protobuf.
  bool allow_delegated_values = false;
  double presence = 0.5;
  int max_depth = 4;
};

// Fills messages of any type through reflection with values chosen to hit the edges of the
// JSON mapping.
class RandomFiller {
 public:
  RandomFiller(uint64_t seed, GeneratorOptions options) : rng_(seed), options_(options) {}

  void Fill(Message* message, int depth = 0) {
    const Descriptor* type = message->GetDescriptor();
    switch (type->well_known_type()) {
      case Descriptor::WELLKNOWNTYPE_TIMESTAMP:
        return FillTimestamp(message);
      case Descriptor::WELLKNOWNTYPE_DURATION:
        return FillDuration(message);
      case Descriptor::WELLKNOWNTYPE_FIELDMASK:
        return FillFieldMask(message);
      case Descriptor::WELLKNOWNTYPE_ANY:
        return FillAny(message, depth);
      default:
        break;
    }
    const Reflection* r = message->GetReflection();
    const double presence = options_.presence / (1 + depth);
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      if (is_message && depth >= options_.max_depth) continue;
      if (!Chance(presence)) continue;
      if (field->is_map()) {
        const int entries = 1 + Below(4);
        for (int e = 0; e < entries; ++e) {
          Message* entry = r->AddMessage(message, field);
          SetSingular(entry, field->message_type()->map_key(), depth + 1);
          SetSingular(entry, field->message_type()->map_value(), depth + 1);
        }
      } else if (field->is_repeated()) {
        const int elements = 1 + Below(4);
        for (int e = 0; e < elements; ++e) AddElement(message, field, depth + 1);
      } else {
        SetSingular(message, field, depth + 1);
      }
    }
  }

  // A random message of `type`, in the state a response has after arriving over gRPC
  // (parsed from the wire).
  std::unique_ptr<Message> Make(const Descriptor* type) {
    std::unique_ptr<Message> message(
        MessageFactory::generated_factory()->GetPrototype(type)->New());
    Fill(message.get());
    if (Chance(0.1)) {
      // Fields of a newer version of the proto: on the wire, not in JSON.
      message->GetReflection()->MutableUnknownFields(message.get())->AddVarint(4000, Bits());
    }
    std::string wire = message->SerializeAsString();
    message->Clear();
    EXPECT_TRUE(message->ParseFromString(wire));
    return message;
  }

  int32_t Int32() {
    return Pick<int32_t>({0, 1, -1, 42, std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max(), static_cast<int32_t>(Bits())});
  }
  int64_t Int64() {
    return Pick<int64_t>({0, 1, -1, 9007199254740993LL, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max(), static_cast<int64_t>(Bits()),
                          static_cast<int32_t>(Bits())});
  }
  uint32_t UInt32() {
    return Pick<uint32_t>(
        {0, 1, std::numeric_limits<uint32_t>::max(), static_cast<uint32_t>(Bits())});
  }
  uint64_t UInt64() {
    return Pick<uint64_t>({0, 1, std::numeric_limits<uint64_t>::max(), Bits(), Bits() >> 40});
  }
  double Double() {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    switch (Below(4)) {
      case 0: {
        const uint64_t bits = Bits();
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        return d;
      }
      case 1:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      default:
        return Pick<double>({0.0, -0.0, 1.0, -1.5, 0.1, 0.1 + 0.2, 1.0 / 3, 1e-7, 1e-5, 1e15,
                             1e16, 1e17, 1e21, 1e22, 123456789012345680.0, 9007199254740993.0,
                             5e-324, 2.2250738585072014e-308, std::numeric_limits<double>::max(),
                             -std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::quiet_NaN(), kInf, -kInf, 100.0,
                             12345.678});
    }
  }
  float Float() {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    switch (Below(4)) {
      case 0: {
        const uint32_t bits = static_cast<uint32_t>(Bits());
        float f;
        std::memcpy(&f, &bits, sizeof(f));
        return f;
      }
      case 1:
        return std::uniform_real_distribution<float>(-1e4f, 1e4f)(rng_);
      default:
        return Pick<float>({0.0f, -0.0f, 1.0f, 0.1f, 1.0f / 3, 1e-7f, 1e21f, 16777217.0f,
                            1e-45f, 1.17549435e-38f, std::numeric_limits<float>::max(),
                            -std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::quiet_NaN(), kInf, -kInf, 2.5f});
    }
  }
  std::string String() {
    static const std::vector<std::string> kPieces = {
        "", "a", "Hello, World", "\"", "\\", "/", "<", ">", "&", "=", "'", "<script>",
        std::string(1, '\0'), "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", " ",
        "caf\xc3\xa9",                      // é
        "\xc2\x80", "\xc2\x9f", "\xc2\xa0",  // C1 controls, NBSP
        "\xc2\xad",                          // U+00AD soft hyphen
        "\xd8\x80", "\xdb\x9d", "\xdc\x8f",  // U+0600, U+06DD, U+070F
        "\xe1\x9e\xb4",                      // U+17B4
        "\xe2\x80\x8b", "\xe2\x80\xa8", "\xe2\x80\xae", "\xe2\x81\xa0", "\xe2\x81\xaf",
        "\xef\xbb\xbf", "\xef\xbf\xb9", "\xef\xbf\xbd",  // U+FEFF, U+FFF9, U+FFFD
        "\xe6\x97\xa5\xe6\x9c\xac",                      // 日本
        "\xf0\x9f\x98\x80",                              // emoji
        "\xf0\x9d\x85\xb3", "\xf3\xa0\x80\x81", "\xf3\xa0\x81\xbf",  // U+1D173, E0001, E007F
        "\xf4\x8f\xbf\xbf",                                          // U+10FFFF
    };
    std::string out;
    const int pieces = Below(6);
    for (int i = 0; i < pieces; ++i) {
      if (Chance(0.2)) {
        uint32_t cp;
        do {
          cp = static_cast<uint32_t>(Below(0x110000));
        } while (cp >= 0xd800 && cp <= 0xdfff);
        out += Utf8(cp);
      } else {
        out += kPieces[Below(kPieces.size())];
      }
    }
    return out;
  }
  std::string Bytes() {
    std::string out(Below(13), '\0');
    for (char& c : out) c = static_cast<char>(Bits());
    return out;
  }
  int EnumNumber(const EnumDescriptor* type) {
    if (Chance(0.75)) return type->value(Below(type->value_count()))->number();
    // Values a newer version of the proto may have.
    return Pick<int>({-1, 3, 7, 100, std::numeric_limits<int32_t>::max(),
                      std::numeric_limits<int32_t>::min()});
  }

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Below(size_t n) { return static_cast<int>(rng_() % n); }
  uint64_t Bits() { return rng_(); }

 private:
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return *(values.begin() + Below(values.size()));
  }

  void SetSingular(Message* m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return r->SetInt32(m, f, Int32());
      case FieldDescriptor::CPPTYPE_INT64:
        return r->SetInt64(m, f, Int64());
      case FieldDescriptor::CPPTYPE_UINT32:
        return r->SetUInt32(m, f, UInt32());
      case FieldDescriptor::CPPTYPE_UINT64:
        return r->SetUInt64(m, f, UInt64());
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return r->SetDouble(m, f, Double());
      case FieldDescriptor::CPPTYPE_FLOAT:
        return r->SetFloat(m, f, Float());
      case FieldDescriptor::CPPTYPE_BOOL:
        return r->SetBool(m, f, Chance(0.5));
      case FieldDescriptor::CPPTYPE_ENUM:
        return r->SetEnumValue(m, f, EnumNumber(f->enum_type()));
      case FieldDescriptor::CPPTYPE_STRING:
        return r->SetString(m, f, f->type() == FieldDescriptor::TYPE_BYTES ? Bytes() : String());
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Fill(r->MutableMessage(m, f), depth);
    }
  }

  void AddElement(Message* m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return r->AddInt32(m, f, Int32());
      case FieldDescriptor::CPPTYPE_INT64:
        return r->AddInt64(m, f, Int64());
      case FieldDescriptor::CPPTYPE_UINT32:
        return r->AddUInt32(m, f, UInt32());
      case FieldDescriptor::CPPTYPE_UINT64:
        return r->AddUInt64(m, f, UInt64());
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return r->AddDouble(m, f, Double());
      case FieldDescriptor::CPPTYPE_FLOAT:
        return r->AddFloat(m, f, Float());
      case FieldDescriptor::CPPTYPE_BOOL:
        return r->AddBool(m, f, Chance(0.5));
      case FieldDescriptor::CPPTYPE_ENUM:
        return r->AddEnumValue(m, f, EnumNumber(f->enum_type()));
      case FieldDescriptor::CPPTYPE_STRING:
        return r->AddString(m, f, f->type() == FieldDescriptor::TYPE_BYTES ? Bytes() : String());
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Fill(r->AddMessage(m, f), depth);
    }
  }

  int32_t Nanos() {
    switch (Below(5)) {
      case 0:
        return 0;
      case 1:
        return Below(1000) * 1000000;
      case 2:
        return Below(1000000) * 1000;
      case 3:
        return 999999999;
      default:
        return Below(1000000000);
    }
  }

  void SetSecondsAndNanos(Message* m, int64_t seconds, int32_t nanos) {
    const Reflection* r = m->GetReflection();
    r->SetInt64(m, m->GetDescriptor()->field(0), seconds);
    r->SetInt32(m, m->GetDescriptor()->field(1), nanos);
  }

  void FillTimestamp(Message* m) {
    constexpr int64_t kMin = -62135596800, kMax = 253402300799;
    int64_t seconds = Pick<int64_t>(
        {0, -1, 1, kMin, kMax, 1803909600, 951782400 /* 2000-02-29 */,
         std::uniform_int_distribution<int64_t>(kMin, kMax)(rng_),
         std::uniform_int_distribution<int64_t>(-86400 * 800, 86400 * 800)(rng_)});
    int32_t nanos = Nanos();
    if (options_.allow_delegated_values && Chance(0.2)) {
      if (Chance(0.5)) {
        seconds = Pick<int64_t>({kMin - 1, kMax + 1, std::numeric_limits<int64_t>::min()});
      } else {
        nanos = Pick<int32_t>({-1, 1000000000, std::numeric_limits<int32_t>::min()});
      }
    }
    SetSecondsAndNanos(m, seconds, nanos);
  }

  void FillDuration(Message* m) {
    constexpr int64_t kMax = 315576000000;
    int64_t seconds = Pick<int64_t>({0, 1, -1, 59, -3600, kMax, -kMax,
                                     std::uniform_int_distribution<int64_t>(-kMax, kMax)(rng_)});
    int32_t nanos = Nanos();
    if (seconds < 0 || (seconds == 0 && Chance(0.5))) nanos = -nanos;
    if (options_.allow_delegated_values && Chance(0.2)) {
      switch (Below(3)) {
        case 0:
          seconds = Pick<int64_t>({kMax + 1, -kMax - 1});
          break;
        case 1:
          nanos = Pick<int32_t>({1000000000, -1000000000});
          break;
        default:
          seconds = 5;
          nanos = -5;  // signs disagree
          break;
      }
    }
    SetSecondsAndNanos(m, seconds, nanos);
  }

  void FillFieldMask(Message* m) {
    const std::string alphabet =
        options_.allow_delegated_values ? "abcxyz019__AZ\"[]-." : "abcxyz019___";
    const Reflection* r = m->GetReflection();
    const FieldDescriptor* paths = m->GetDescriptor()->field(0);
    const int count = Below(4);
    for (int p = 0; p < count; ++p) {
      std::string path;
      const int segments = 1 + Below(3);
      for (int s = 0; s < segments; ++s) {
        if (s > 0) path += '.';
        const int length = 1 + Below(8);
        for (int c = 0; c < length; ++c) path += alphabet[Below(alphabet.size())];
      }
      r->AddString(m, paths, path);
    }
  }

  void FillAny(Message* m, int depth) {
    gatewaytest::v1::Inner inner;
    Fill(&inner, depth + 1);
    const Reflection* r = m->GetReflection();
    r->SetString(m, m->GetDescriptor()->FindFieldByName("type_url"),
                 "type.googleapis.com/clerkship.gatewaytest.v1.Inner");
    r->SetString(m, m->GetDescriptor()->FindFieldByName("value"), inner.SerializeAsString());
  }

  std::mt19937_64 rng_;
  GeneratorOptions options_;
};

// Compares the printer with protobuf on `message`, both ways of printing defaults. Returns
// a description of the first difference, or "".
std::string Difference(const Message& message, bool require_fast_path) {
  for (bool emit_defaults : {false, true}) {
    absl::StatusOr<std::string> expected = Reference(message, emit_defaults);
    absl::StatusOr<std::string> actual = MessageToJson(message, emit_defaults);
    const std::string context = absl::StrCat(message.GetDescriptor()->full_name(),
                                             " emit_defaults=", emit_defaults, "\n",
                                             message.ShortDebugString().substr(0, 3000));
    if (expected.ok() != actual.ok()) {
      return absl::StrCat("status differs: ", expected.status().ToString(), " vs ",
                          actual.status().ToString(), "\n", context);
    }
    if (!expected.ok()) {
      if (expected.status() != actual.status()) {
        return absl::StrCat("error differs: ", expected.status().ToString(), " vs ",
                            actual.status().ToString());
      }
      continue;
    }
    if (*expected != *actual) {
      return absl::StrCat("output differs\nprotobuf: ", *expected, "\nprinter:  ", *actual,
                          "\n", context);
    }
    if (require_fast_path) {
      std::string direct;
      if (!AppendMessageJson(message, emit_defaults, &direct)) {
        return absl::StrCat("left to protobuf although it need not be\n", context);
      }
    }
  }
  return "";
}

// Every member FieldToJson prints is the member's value in protobuf's JSON of the message,
// and FieldToJson prints nothing exactly for the members that JSON leaves out.
std::string FieldDifference(const Message& message) {
  for (bool emit_defaults : {false, true}) {
    absl::StatusOr<std::string> whole_text = Reference(message, emit_defaults);
    if (!whole_text.ok()) continue;
    nlohmann::json whole = nlohmann::json::parse(*whole_text);
    const Descriptor* type = message.GetDescriptor();
    if (type->well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED) {
      // Not a JSON object of its fields: no members.
      for (int i = 0; i < type->field_count(); ++i) {
        absl::StatusOr<std::optional<std::string>> member =
            FieldToJson(message, type->field(i), emit_defaults);
        if (!member.ok() || member->has_value()) {
          return absl::StrCat(type->full_name(), " has a member ", type->field(i)->name());
        }
      }
      continue;
    }
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      absl::StatusOr<std::optional<std::string>> member =
          FieldToJson(message, field, emit_defaults);
      const std::string context = absl::StrCat(field->full_name(), " emit_defaults=",
                                               emit_defaults, "\nprotobuf: ", *whole_text);
      if (!member.ok()) return absl::StrCat(member.status().ToString(), "\n", context);
      if (member->has_value() != whole.contains(field->json_name())) {
        return absl::StrCat("presence differs\n", context);
      }
      if (!member->has_value()) continue;
      std::string quoted_key;
      AppendProtoJsonString(&quoted_key, field->json_name());
      if (whole_text->find(absl::StrCat(quoted_key, ":", **member)) == std::string::npos ||
          nlohmann::json::parse(**member) != whole[field->json_name()]) {
        return absl::StrCat("member differs: ", **member, "\n", context);
      }
    }
  }
  return "";
}

// The message types of every route's response, and every message type inside them.
std::vector<const Descriptor*> GatewayResponseTypes() {
  auto table = RouteTable::Build(FrontedServices({}));
  EXPECT_TRUE(table.ok()) << table.status();
  std::vector<const Descriptor*> out;
  std::set<const Descriptor*> seen;
  std::deque<const Descriptor*> pending;
  for (const auto& route : (*table)->routes()) {
    pending.push_back(route->response_prototype->GetDescriptor());
  }
  while (!pending.empty()) {
    const Descriptor* type = pending.front();
    pending.pop_front();
    if (!seen.insert(type).second) continue;
    out.push_back(type);
    for (int i = 0; i < type->field_count(); ++i) {
      if (type->field(i)->message_type() != nullptr) {
        pending.push_back(type->field(i)->message_type());
      }
    }
  }
  return out;
}

TEST(JsonPrinterTest, EveryGatewayResponseTypePrintsLikeProtobuf) {
  std::vector<const Descriptor*> types = GatewayResponseTypes();
  ASSERT_GE(types.size(), 20u);  // every fronted service answers
  RandomFiller filler(20270301, GeneratorOptions{});
  int messages = 0;
  for (const Descriptor* type : types) {
    if (type->options().map_entry()) continue;
    for (int i = 0; i < 60; ++i) {
      std::unique_ptr<Message> message = filler.Make(type);
      std::string difference = Difference(*message, /*require_fast_path=*/true);
      ASSERT_EQ(difference, "");
      ASSERT_EQ(FieldDifference(*message), "");
      ++messages;
    }
  }
  EXPECT_GT(messages, 1000);
}

TEST(JsonPrinterTest, EveryFieldKindPrintsLikeProtobuf) {
  RandomFiller filler(7, GeneratorOptions{});
  for (int i = 0; i < 800; ++i) {
    std::unique_ptr<Message> message = filler.Make(AllKinds::descriptor());
    ASSERT_EQ(Difference(*message, /*require_fast_path=*/true), "");
    if (i % 5 == 0) ASSERT_EQ(FieldDifference(*message), "");
  }
}

TEST(JsonPrinterTest, SparseAndDenseMessagesPrintLikeProtobuf) {
  for (double presence : {0.05, 1.0}) {
    RandomFiller filler(11, GeneratorOptions{false, presence, 2});
    for (int i = 0; i < 300; ++i) {
      std::unique_ptr<Message> message = filler.Make(AllKinds::descriptor());
      ASSERT_EQ(Difference(*message, /*require_fast_path=*/true), "");
    }
  }
}

TEST(JsonPrinterTest, WhatIsLeftToProtobufStillPrintsLikeProtobuf) {
  GeneratorOptions options;
  options.allow_delegated_values = true;
  RandomFiller filler(99, options);
  // protobuf logs each message it refuses to print.
  google::protobuf::LogSilencer silence_refusals;
  int delegated = 0;
  for (int i = 0; i < 600; ++i) {
    const Descriptor* type = i % 2 == 0 ? AllKinds::descriptor() : Delegated::descriptor();
    std::unique_ptr<Message> message = filler.Make(type);
    ASSERT_EQ(Difference(*message, /*require_fast_path=*/false), "");
    ASSERT_EQ(FieldDifference(*message), "");
    std::string direct;
    if (!AppendMessageJson(*message, true, &direct)) ++delegated;
  }
  EXPECT_GT(delegated, 100);  // the fallback was exercised
}

TEST(JsonPrinterTest, EmptyMessagesPrintLikeProtobuf) {
  for (const Descriptor* type : {AllKinds::descriptor(), gatewaytest::v1::Inner::descriptor(),
                                 Delegated::descriptor()}) {
    std::unique_ptr<Message> message(
        MessageFactory::generated_factory()->GetPrototype(type)->New());
    // Delegated's NullValue field prints even unset, and NullValue is left to protobuf.
    EXPECT_EQ(Difference(*message, /*require_fast_path=*/type != Delegated::descriptor()), "");
  }
}

// Messages of a pool other than the generated one (as a DynamicMessageFactory makes them)
// print the same way.
TEST(JsonPrinterTest, DynamicMessagesPrintLikeProtobuf) {
  google::protobuf::DescriptorPool pool;
  std::vector<const google::protobuf::FileDescriptor*> files;
  std::function<void(const google::protobuf::FileDescriptor*)> add_in_order =
      [&](const google::protobuf::FileDescriptor* file) {
        if (pool.FindFileByName(file->name()) != nullptr) return;
        for (int i = 0; i < file->dependency_count(); ++i) add_in_order(file->dependency(i));
        google::protobuf::FileDescriptorProto proto;
        file->CopyTo(&proto);
        ASSERT_NE(pool.BuildFile(proto), nullptr) << file->name();
      };
  add_in_order(AllKinds::descriptor()->file());
  const Descriptor* dynamic_type = pool.FindMessageTypeByName(AllKinds::descriptor()->full_name());
  ASSERT_NE(dynamic_type, nullptr);
  google::protobuf::DynamicMessageFactory factory(&pool);
  RandomFiller filler(13, GeneratorOptions{});
  for (int i = 0; i < 150; ++i) {
    std::unique_ptr<Message> generated = filler.Make(AllKinds::descriptor());
    std::unique_ptr<Message> dynamic(factory.GetPrototype(dynamic_type)->New());
    ASSERT_TRUE(dynamic->ParseFromString(generated->SerializeAsString()));
    ASSERT_EQ(Difference(*dynamic, /*require_fast_path=*/true), "");
  }
}

// The gateway prints responses on many threads at once; the per-type plans are shared.
TEST(JsonPrinterTest, ConcurrentPrintingAgrees) {
  std::vector<std::unique_ptr<Message>> messages;
  std::vector<std::string> expected;
  RandomFiller filler(17, GeneratorOptions{});
  for (int i = 0; i < 40; ++i) {
    messages.push_back(filler.Make(i % 2 ? AllKinds::descriptor() : Delegated::descriptor()));
    expected.push_back(Reference(*messages.back(), true).value_or("error"));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < messages.size(); ++i) {
          if (MessageToJson(*messages[i], true).value_or("error") != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Not proto3: printed by protobuf, identically.
TEST(JsonPrinterTest, Proto2MessagesAreLeftToProtobuf) {
  google::protobuf::FileDescriptorProto file;
  AllKinds::descriptor()->file()->CopyTo(&file);
  EXPECT_EQ(Difference(file, /*require_fast_path=*/false), "");
  std::string direct;
  EXPECT_FALSE(AppendMessageJson(file, false, &direct));
}

TEST(JsonPrinterTest, DeepNestingIsLeftToProtobuf) {
  google::protobuf::LogSilencer silence_refusals;
  for (int depth : {20, 40, 63, 64, 65, 100}) {
    AllKinds root;
    AllKinds* at = &root;
    for (int i = 0; i < depth; ++i) {
      at->set_f_int32(i);
      at = at->mutable_recursive();
    }
    EXPECT_EQ(Difference(root, /*require_fast_path=*/depth < 30), "") << depth;
  }
}

// Every code point protobuf can print, each as one string: the escaping is the same
// everywhere.
TEST(JsonPrinterTest, EveryCodePointIsEscapedLikeProtobuf) {
  AllKinds message;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    message.add_r_string(Utf8(cp));
    if (message.r_string_size() == 8192 || cp == 0x10ffff) {
      absl::StatusOr<std::string> expected = Reference(message, false);
      ASSERT_TRUE(expected.ok());
      std::string actual;
      ASSERT_TRUE(AppendMessageJson(message, false, &actual));
      ASSERT_EQ(actual, *expected) << "code points up to U+" << std::hex << cp;
      message.clear_r_string();
    }
  }
}

// Strings that are not UTF-8 cannot arrive from a backend (the gRPC layer rejects them),
// but the printer must still not go its own way on them: protobuf drops the broken bytes.
TEST(JsonPrinterTest, BrokenUtf8IsDroppedLikeProtobuf) {
  google::protobuf::LogSilencer silence_utf8_complaints;
  std::mt19937_64 rng(5);
  const std::string interesting = "a\"<\x7f\xc0\xc1\xc2\xc3\xdf\xe0\xed\xef\xf0\xf4\xf5\xf7\xf8"
                                  "\xff\x80\x9f\xa0\xbf";
  for (int i = 0; i < 4000; ++i) {
    std::string text(rng() % 9, '\0');
    for (char& c : text) {
      c = rng() % 3 == 0 ? static_cast<char>(rng()) : interesting[rng() % interesting.size()];
    }
    AllKinds message;
    message.set_f_string(text);
    message.add_r_string(text + "\xe2\x80\xa8");
    absl::StatusOr<std::string> expected = Reference(message, false);
    ASSERT_TRUE(expected.ok());
    std::string actual;
    ASSERT_TRUE(AppendMessageJson(message, false, &actual));
    ASSERT_EQ(actual, *expected) << absl::CEscape(text);
  }
}

// The format itself, spelled out (the random tests prove it matches protobuf).
TEST(JsonPrinterTest, ProducesTheProto3JsonMapping) {
  AllKinds m;
  m.set_f_int32(-5);
  m.set_f_int64(-9007199254740993LL);
  m.set_f_uint64(18446744073709551615ULL);
  m.set_f_double(1e21);
  m.set_f_float(0.1f);
  m.set_f_bytes("\x01\x02\x03\xff");
  m.set_f_string("<a href='x'>&\"\\\n\x01\xe2\x80\xa8");
  m.set_f_mood(static_cast<gatewaytest::v1::Mood>(9));
  m.add_r_double(std::numeric_limits<double>::quiet_NaN());
  m.add_r_double(-std::numeric_limits<double>::infinity());
  m.add_r_double(-0.0);
  m.mutable_f_timestamp()->set_seconds(1803909600);
  m.mutable_f_timestamp()->set_nanos(250000000);
  m.mutable_f_duration()->set_seconds(-1);
  m.mutable_f_duration()->set_nanos(-500000000);
  m.mutable_f_field_mask()->add_paths("update_time");
  m.mutable_f_field_mask()->add_paths("site.display_name");
  m.mutable_w_int64()->set_value(7);
  m.mutable_w_string();
  (*m.mutable_m_bool_string())[true] = "yes";
  m.set_o_int64(0);  // a set oneof member prints even at its default
  m.set_opt_int32(0);
  m.set_custom_json("c");
  const std::string lean =
      R"({"fInt32":-5,"fInt64":"-9007199254740993","fUint64":"18446744073709551615",)"
      R"("fFloat":0.1,"fDouble":1e+21,)"
      R"("fString":"\u003ca href='x'\u003e&\"\\\n\u0001\u2028","fBytes":"AQID/w==",)"
      R"("fMood":9,"fTimestamp":"2027-03-01T14:00:00.250Z","fDuration":"-1.500s",)"
      R"("fFieldMask":"updateTime,site.displayName","wInt64":"7","wString":"",)"
      R"("rDouble":["NaN","-Infinity",-0],"mBoolString":{"true":"yes"},"oInt64":"0",)"
      R"("optInt32":0,"custom\u003cJson\u003e&\"x":"c"})";
  EXPECT_EQ(*MessageToJson(m, false), lean);
  EXPECT_EQ(*Reference(m, false), lean);

  // With emit_defaults: declaration order, then what protobuf appends (wrappers and other
  // messages it prints as bare values, oneof and optional scalars) by field number.
  gatewaytest::v1::Inner inner;
  inner.set_count(3);
  inner.mutable_when()->set_seconds(-62135596800);
  const std::string full =
      R"({"text":"","count":"3","mood":"MOOD_UNSPECIFIED","children":[],)"
      R"("when":"0001-01-01T00:00:00Z"})";
  EXPECT_EQ(*MessageToJson(inner, true), full);
  EXPECT_EQ(*Reference(inner, true), full);
}

TEST(JsonPrinterTest, TimestampsAndDurationsUseThreeSixOrNineDigits) {
  struct Case {
    int64_t seconds;
    int32_t nanos;
    const char* timestamp;
    const char* duration;
  };
  const Case cases[] = {
      {0, 0, "\"1970-01-01T00:00:00Z\"", "\"0s\""},
      {1, 500000000, "\"1970-01-01T00:00:01.500Z\"", "\"1.500s\""},
      {86399, 1000, "\"1970-01-01T23:59:59.000001Z\"", "\"86399.000001s\""},
      {951782400, 1, "\"2000-02-29T00:00:00.000000001Z\"", "\"951782400.000000001s\""},
      {253402300799, 999999999, "\"9999-12-31T23:59:59.999999999Z\"",
       "\"253402300799.999999999s\""},
      {-1, 0, "\"1969-12-31T23:59:59Z\"", "\"-1s\""},
  };
  for (const Case& c : cases) {
    google::protobuf::Timestamp t;
    t.set_seconds(c.seconds);
    t.set_nanos(c.nanos);
    EXPECT_EQ(*MessageToJson(t, true), c.timestamp);
    EXPECT_EQ(*Reference(t, true), c.timestamp);
    google::protobuf::Duration d;
    d.set_seconds(c.seconds);
    d.set_nanos(c.nanos);
    EXPECT_EQ(*MessageToJson(d, false), c.duration);
    EXPECT_EQ(*Reference(d, false), c.duration);
  }
  google::protobuf::Duration negative;
  negative.set_nanos(-1500);
  EXPECT_EQ(*MessageToJson(negative, false), "\"-0.000001500s\"");

  // Out of range: the same error as protobuf's.
  google::protobuf::LogSilencer silence_refusals;
  google::protobuf::Timestamp too_late;
  too_late.set_seconds(253402300800);
  absl::StatusOr<std::string> refused = MessageToJson(too_late, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(refused.status(), Reference(too_late, false).status());
}

class ResponseBodyTest : public ::testing::Test {
 protected:
  static Route RouteWithBody(const char* field) {
    Route route;
    route.response_body_field = AllKinds::descriptor()->FindFieldByName(field);
    EXPECT_NE(route.response_body_field, nullptr) << field;
    return route;
  }
  static std::string Body(const char* field, const Message& response, bool emit_defaults) {
    absl::StatusOr<std::string> json = ResponseToJson(RouteWithBody(field), response,
                                                      emit_defaults);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : "";
  }
};

TEST_F(ResponseBodyTest, MembersPrintAsInTheWholeResponse) {
  AllKinds m;
  m.add_r_string("<b>");
  m.add_r_string("\xe2\x80\xa8");
  m.add_r_int64(-2);
  (*m.mutable_m_string_string())["k"] = "v&<";
  m.set_f_string("caf\xc3\xa9 <");
  m.set_f_double(0.1 + 0.2);
  m.mutable_f_timestamp()->set_seconds(60);
  m.mutable_f_inner()->set_text("x");
  // protobuf's escaping and number formatting, not a re-encoding of them.
  EXPECT_EQ(Body("r_string", m, true), R"(["\u003cb\u003e","\u2028"])");
  EXPECT_EQ(Body("r_int64", m, false), R"(["-2"])");
  EXPECT_EQ(Body("m_string_string", m, false), R"({"k":"v&\u003c"})");
  EXPECT_EQ(Body("f_string", m, false), "\"caf\xc3\xa9 \\u003c\"");
  EXPECT_EQ(Body("f_double", m, false), "0.30000000000000004");
  // A singular message member is the message itself.
  EXPECT_EQ(Body("f_timestamp", m, false), "\"1970-01-01T00:01:00Z\"");
  EXPECT_EQ(Body("f_inner", m, false), R"({"text":"x"})");
  EXPECT_EQ(Body("f_inner", m, true),
            R"({"text":"x","count":"0","mood":"MOOD_UNSPECIFIED","children":[]})");
}

TEST_F(ResponseBodyTest, MembersTheResponseWouldOmitAreNull) {
  AllKinds empty;
  EXPECT_EQ(Body("r_string", empty, false), "null");
  EXPECT_EQ(Body("r_string", empty, true), "[]");
  EXPECT_EQ(Body("m_string_string", empty, true), "{}");
  EXPECT_EQ(Body("f_int64", empty, false), "null");
  EXPECT_EQ(Body("f_int64", empty, true), "\"0\"");
  EXPECT_EQ(Body("o_string", empty, true), "null");  // unset oneof member
  EXPECT_EQ(Body("opt_double", empty, true), "null");
  EXPECT_EQ(Body("f_inner", empty, false), "{}");
}

TEST_F(ResponseBodyTest, AFieldOfAnotherMessageIsAnError) {
  AllKinds m;
  absl::StatusOr<std::optional<std::string>> member =
      FieldToJson(m, Delegated::descriptor()->FindFieldByName("name"), true);
  EXPECT_EQ(member.status().code(), absl::StatusCode::kInternal);
}

TEST_F(ResponseBodyTest, MembersOfTypesLeftToProtobufAreItsText) {
  Delegated m;
  m.set_name("n");
  m.add_r_value()->set_string_value("<x>");
  m.add_r_value()->set_number_value(1.5);
  Route route;
  route.response_body_field = Delegated::descriptor()->FindFieldByName("r_value");
  absl::StatusOr<std::string> json = ResponseToJson(route, m, false);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, R"(["\u003cx\u003e",1.5])");
}

// The gateway's own routes, end to end through ResponseToJson.
TEST(ResponseToJsonTest, EveryRoutePrintsItsResponseLikeProtobuf) {
  auto table = RouteTable::Build(FrontedServices({}));
  ASSERT_TRUE(table.ok());
  RandomFiller filler(3, GeneratorOptions{});
  int routes = 0;
  for (const auto& route : (*table)->routes()) {
    if (route->response_body_field != nullptr) continue;  // none of the platform's has one
    ++routes;
    for (int i = 0; i < 5; ++i) {
      std::unique_ptr<Message> response =
          filler.Make(route->response_prototype->GetDescriptor());
      for (bool emit_defaults : {false, true}) {
        absl::StatusOr<std::string> json = ResponseToJson(*route, *response, emit_defaults);
        ASSERT_TRUE(json.ok()) << route->label;
        EXPECT_EQ(*json, *Reference(*response, emit_defaults)) << route->label;
      }
    }
  }
  EXPECT_GT(routes, 20);
}

TEST(ResponseToJsonTest, CountRouteBodyIsTheInt64Member) {
  FrontedService fronted;
  fronted.service =
      gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
  fronted.backend = "things";
  auto table = RouteTable::Build({fronted});
  ASSERT_TRUE(table.ok());
  RouteMatch m = (*table)->Match("GET", "/v1/racks/r1/things:count");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kFound);
  gatewaytest::v1::CountThingsResponse response;
  EXPECT_EQ(*ResponseToJson(*m.route, response, true), "\"0\"");
  EXPECT_EQ(*ResponseToJson(*m.route, response, false), "null");
  response.set_count(-9007199254740993LL);
  EXPECT_EQ(*ResponseToJson(*m.route, response, false), "\"-9007199254740993\"");
}

}  // namespace
}  // namespace clerkship::gateway
