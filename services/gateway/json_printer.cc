#include "services/gateway/json_printer.h"

#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace clerkship::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// protobuf gives up past 64 levels ("Message too deep"); anything near that is left to it,
// which also keeps this printer's recursion shallow whatever the input.
constexpr int kMaxDepth = 32;

// ---------------------------------------------------------------------------------------
// Strings

// The escape protobuf writes for a code point below U+00A0, or "" when it is written as is.
// C0 controls use the short forms JSON has (\b \t \n \f \r); '<' and '>' are escaped so the
// JSON can be embedded in HTML; DEL and the C1 controls are escaped too.
const std::array<std::string, 0xa0>& LowEscapes() {
  static const auto* table = [] {
    auto* t = new std::array<std::string, 0xa0>();
    constexpr char kHex[] = "0123456789abcdef";
    for (int cp = 0; cp < 0xa0; ++cp) {
      if (cp < 0x20 || cp >= 0x7f) {
        (*t)[cp] = std::string("\\u00") + kHex[cp >> 4] + kHex[cp & 0xf];
      }
    }
    (*t)['\b'] = "\\b";
    (*t)['\t'] = "\\t";
    (*t)['\n'] = "\\n";
    (*t)['\f'] = "\\f";
    (*t)['\r'] = "\\r";
    (*t)['"'] = "\\\"";
    (*t)['\\'] = "\\\\";
    (*t)['<'] = "\\u003c";
    (*t)['>'] = "\\u003e";
    return t;
  }();
  return *table;
}

// Bytes that send a string down the careful path: anything escaped, and every non-ASCII
// byte (which has to be decoded to know).
bool NeedsCare(unsigned char c) {
  return c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>';
}

void AppendHex4(std::string* out, uint32_t unit) {
  constexpr char kHex[] = "0123456789abcdef";
  char buf[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf],
                 kHex[(unit >> 4) & 0xf], kHex[unit & 0xf]};
  out->append(buf, sizeof(buf));
}

// Appends protobuf's escape for `cp` and returns true, or returns false when protobuf
// writes the code point unescaped. Beyond the control characters protobuf escapes code
// points that are invisible or change text direction (a guard for JavaScript consumers).
bool AppendEscape(std::string* out, uint32_t cp) {
  if (cp < 0xa0) {
    const std::string& escape = LowEscapes()[cp];
    if (escape.empty()) return false;
    out->append(escape);
    return true;
  }
  const bool bmp_escaped =
      cp == 0x00ad || (cp >= 0x0600 && cp <= 0x0603) || cp == 0x06dd || cp == 0x070f ||
      cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x200b && cp <= 0x200f) ||
      (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
      (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
  if (bmp_escaped) {
    AppendHex4(out, cp);
    return true;
  }
  const bool supplementary_escaped = cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
                                     (cp >= 0xe0020 && cp <= 0xe007f);
  if (supplementary_escaped) {
    const uint32_t offset = cp - 0x10000;
    AppendHex4(out, 0xd800 + (offset >> 10));
    AppendHex4(out, 0xdc00 + (offset & 0x3ff));
    return true;
  }
  return false;
}

void AppendEscapedSlow(std::string* out, std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  auto flush = [&](size_t end) { out->append(text.data() + run, end - run); };
  while (i < n) {
    const unsigned char lead = s[i];
    if (lead < 0x80) {
      if (!LowEscapes()[lead].empty()) {
        flush(i);
        out->append(LowEscapes()[lead]);
        run = i + 1;
      }
      ++i;
      continue;
    }
    // A multi-byte sequence. protobuf reads it leniently (overlong forms pass) and drops
    // every byte it has read of a sequence that turns out broken, including the offending
    // byte; a sequence cut short by the end of the string is dropped as well.
    size_t consumed = 1;
    bool ok = true;
    uint32_t cp = 0;
    if (lead < 0xc0 || lead >= 0xf8) {
      ok = false;
    } else {
      size_t missing = lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : 3;
      cp = lead & (lead < 0xe0 ? 0x1f : lead < 0xf0 ? 0x0f : 0x07);
      while (missing > 0 && i + consumed < n) {
        const unsigned char next = s[i + consumed];
        ++consumed;
        --missing;
        cp = (cp << 6) | (next & 0x3f);
        if (next < 0x80 || next > 0xbf) {
          ok = false;
          break;
        }
      }
      if (missing > 0) ok = false;
      if (ok && ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) ok = false;
    }
    if (!ok) {
      flush(i);
      i += consumed;
      run = i;
      continue;
    }
    std::string escape;  // at most 12 characters: no allocation
    if (AppendEscape(&escape, cp)) {
      flush(i);
      out->append(escape);
      run = i + consumed;
    }
    // Otherwise the original bytes stay in the pending run.
    i += consumed;
  }
  flush(n);
}

// ---------------------------------------------------------------------------------------
// Numbers and scalars

template <typename Int>
void AppendInt(std::string* out, Int value) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, result.ptr - buf);
}

// 64-bit integers are JSON strings: JavaScript numbers cannot hold them.
template <typename Int>
void AppendQuotedInt(std::string* out, Int value) {
  out->push_back('"');
  AppendInt(out, value);
  out->push_back('"');
}

// Shortest of "%.15g"/"%.17g" (resp. "%.6g"/"%.9g") that reads back exactly: protobuf's own
// formatting routines, so the digits cannot differ. Non-finite values are the strings proto3
// JSON defines.
void AppendDouble(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[google::protobuf::kDoubleToBufferSize];
    out->append(google::protobuf::DoubleToBuffer(value, buf));
  }
}

void AppendFloat(std::string* out, float value) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[google::protobuf::kFloatToBufferSize];
    out->append(google::protobuf::FloatToBuffer(value, buf));
  }
}

void AppendBool(std::string* out, bool value) { out->append(value ? "true" : "false"); }

void AppendBytes(std::string* out, const std::string& value) {
  out->push_back('"');
  out->append(absl::Base64Escape(value));
  out->push_back('"');
}

// Left-pads with zeros to `width` digits (value >= 0).
void AppendPadded(std::string* out, int64_t value, int width) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  const int digits = static_cast<int>(result.ptr - buf);
  if (digits < width) out->append(width - digits, '0');
  out->append(buf, digits);
}

// ".5" style fractions as protobuf writes them for times and durations: none for whole
// seconds, else 3, 6 or 9 digits, the fewest that hold the value exactly.
void AppendNanos(std::string* out, int32_t nanos) {
  if (nanos == 0) return;
  out->push_back('.');
  if (nanos % 1000000 == 0) {
    AppendPadded(out, nanos / 1000000, 3);
  } else if (nanos % 1000 == 0) {
    AppendPadded(out, nanos / 1000, 6);
  } else {
    AppendPadded(out, nanos, 9);
  }
}

// Proleptic Gregorian date of a day count since 1970-01-01 (the era arithmetic of
// "chrono-compatible low-level date algorithms", valid for any int64 day count in range).
void CivilFromDays(int64_t days, int64_t* year, int* month, int* day) {
  days += 719468;  // days from 0000-03-01 to 1970-01-01
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  *day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  *month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  *year = year_of_era + era * 400 + (*month <= 2 ? 1 : 0);
}

// The limits protobuf enforces when printing (0001-01-01 to 9999-12-31; ±10,000 years).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kNanosPerSecond = 1000000000;

bool IsBareValueType(const Descriptor* type) {
  switch (type->well_known_type()) {
    case Descriptor::WELLKNOWNTYPE_DOUBLEVALUE:
    case Descriptor::WELLKNOWNTYPE_FLOATVALUE:
    case Descriptor::WELLKNOWNTYPE_INT64VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT64VALUE:
    case Descriptor::WELLKNOWNTYPE_INT32VALUE:
    case Descriptor::WELLKNOWNTYPE_UINT32VALUE:
    case Descriptor::WELLKNOWNTYPE_STRINGVALUE:
    case Descriptor::WELLKNOWNTYPE_BYTESVALUE:
    case Descriptor::WELLKNOWNTYPE_BOOLVALUE:
    case Descriptor::WELLKNOWNTYPE_TIMESTAMP:
    case Descriptor::WELLKNOWNTYPE_DURATION:
    case Descriptor::WELLKNOWNTYPE_FIELDMASK:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// Plans: what the printer needs to know of a message type, worked out once per type.
// Descriptor accessors are not free (those of lazily built descriptors synchronize on every
// call), and a response has a few dozen fields.

struct FieldPlan {
  const FieldDescriptor* field = nullptr;
  std::string key;  // `"jsonName":`, escaped
  FieldDescriptor::CppType cpp_type = FieldDescriptor::CPPTYPE_INT32;
  bool repeated = false;
  bool map = false;
  bool bytes = false;
  bool in_oneof = false;  // a real oneof or a proto3 `optional`
  // With emit_defaults protobuf moves these singular fields behind the others (see the
  // header): scalars of a oneof, and messages it prints as a bare value.
  bool goes_last = false;
  const EnumDescriptor* enum_type = nullptr;
  bool null_value = false;  // google.protobuf.NullValue, printed as null
};

struct MessagePlan {
  Descriptor::WellKnownType well_known = Descriptor::WELLKNOWNTYPE_UNSPECIFIED;
  bool proto3 = false;
  std::vector<FieldPlan> fields;             // declaration order (FieldDescriptor::index)
  std::vector<const FieldPlan*> by_number;  // field-number order
};

std::unique_ptr<MessagePlan> BuildPlan(const Descriptor* type) {
  auto plan = std::make_unique<MessagePlan>();
  plan->well_known = type->well_known_type();
  plan->proto3 = type->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
  plan->fields.resize(type->field_count());
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    FieldPlan& f = plan->fields[i];
    f.field = field;
    if (field->has_json_name()) {
      AppendProtoJsonString(&f.key, field->json_name());
    } else {
      // Derived from the field name: letters, digits and '_' only.
      f.key = "\"" + field->json_name() + "\"";
    }
    f.key.push_back(':');
    f.cpp_type = field->cpp_type();
    f.repeated = field->is_repeated();
    f.map = field->is_map();
    f.bytes = field->type() == FieldDescriptor::TYPE_BYTES;
    f.in_oneof = field->containing_oneof() != nullptr;
    if (f.cpp_type == FieldDescriptor::CPPTYPE_MESSAGE) {
      f.goes_last = !f.repeated && IsBareValueType(field->message_type());
    } else {
      f.goes_last = !f.repeated && f.in_oneof;
    }
    if (f.cpp_type == FieldDescriptor::CPPTYPE_ENUM) {
      f.enum_type = field->enum_type();
      f.null_value = f.enum_type->full_name() == "google.protobuf.NullValue";
    }
    plan->by_number.push_back(&f);
  }
  std::stable_sort(plan->by_number.begin(), plan->by_number.end(),
                   [](const FieldPlan* a, const FieldPlan* b) {
                     return a->field->number() < b->field->number();
                   });
  return plan;
}

// Plans of generated types, which live as long as the process like their descriptors.
class PlanCache {
 public:
  const MessagePlan* Get(const Descriptor* type) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<MessagePlan>& slot = plans_[type];
    if (slot == nullptr) slot = BuildPlan(type);
    return slot.get();
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<const Descriptor*, std::unique_ptr<MessagePlan>> plans_
      ABSL_GUARDED_BY(mu_);
};

// Each thread keeps its own index to the shared plans, so a lookup takes no lock.
const MessagePlan* CachedPlan(const Descriptor* type) {
  thread_local absl::flat_hash_map<const Descriptor*, const MessagePlan*> index;
  auto found = index.find(type);
  if (found != index.end()) return found->second;
  static PlanCache* const cache = new PlanCache();
  const MessagePlan* plan = cache->Get(type);
  index.emplace(type, plan);
  return plan;
}

// Whether protobuf's output has a member for the field: what is on the wire, and with
// emit_defaults also every repeated field and every scalar outside a oneof.
bool IsPrinted(const Message& message, const Reflection* reflection, const FieldPlan& f,
               bool emit_defaults) {
  if (f.repeated) return emit_defaults || reflection->FieldSize(message, f.field) > 0;
  if (emit_defaults && f.cpp_type != FieldDescriptor::CPPTYPE_MESSAGE && !f.in_oneof) {
    return true;
  }
  return reflection->HasField(message, f.field);
}

// ---------------------------------------------------------------------------------------
// The printer. Every method returns false for something left to protobuf; the caller then
// discards the partial output.

class Printer {
 public:
  Printer(bool emit_defaults, std::string* out) : emit_defaults_(emit_defaults), out_(out) {}

  // Types outside the generated pool (a DynamicMessageFactory over some other pool) may
  // go away with their pool, so their plans live only as long as this printer.
  const MessagePlan& PlanFor(const Descriptor* type) {
    if (type->file()->pool() == google::protobuf::DescriptorPool::generated_pool()) {
      return *CachedPlan(type);
    }
    for (const auto& [owned_type, plan] : own_plans_) {
      if (owned_type == type) return *plan;
    }
    own_plans_.emplace_back(type, BuildPlan(type));
    return *own_plans_.back().second;
  }

  bool PrintMessage(const Message& message) {
    if (++depth_ > kMaxDepth) return false;
    bool ok;
    const MessagePlan& plan = PlanFor(message.GetDescriptor());
    switch (plan.well_known) {
      case Descriptor::WELLKNOWNTYPE_TIMESTAMP:
        ok = PrintTimestamp(message, plan);
        break;
      case Descriptor::WELLKNOWNTYPE_DURATION:
        ok = PrintDuration(message, plan);
        break;
      case Descriptor::WELLKNOWNTYPE_FIELDMASK:
        ok = PrintFieldMask(message, plan);
        break;
      case Descriptor::WELLKNOWNTYPE_ANY:
      case Descriptor::WELLKNOWNTYPE_VALUE:
      case Descriptor::WELLKNOWNTYPE_LISTVALUE:
      case Descriptor::WELLKNOWNTYPE_STRUCT:
        ok = false;
        break;
      case Descriptor::WELLKNOWNTYPE_UNSPECIFIED:
        ok = PrintObject(message, plan);
        break;
      default:
        // Wrappers print their single field's value, set or not.
        ok = plan.fields.size() == 1 && plan.fields[0].field->number() == 1 &&
             PrintSingular(message, message.GetReflection(), plan.fields[0]);
        break;
    }
    --depth_;
    return ok;
  }

  // The value of a field that IsPrinted.
  bool PrintFieldValue(const Message& message, const Reflection* reflection,
                       const FieldPlan& f) {
    if (f.map) return PrintMap(message, reflection, f);
    if (f.repeated) return PrintRepeated(message, reflection, f);
    return PrintSingular(message, reflection, f);
  }

 private:
  bool PrintObject(const Message& message, const MessagePlan& plan) {
    // proto2 has defaults, required fields and extensions that this printer does not model.
    if (!plan.proto3) return false;
    const Reflection* reflection = message.GetReflection();
    out_->push_back('{');
    bool first = true;
    auto member = [&](const FieldPlan& f) {
      if (!first) out_->push_back(',');
      first = false;
      out_->append(f.key);
      return PrintFieldValue(message, reflection, f);
    };
    if (!emit_defaults_) {
      for (const FieldPlan* f : plan.by_number) {
        if (f->repeated || f->in_oneof || f->cpp_type == FieldDescriptor::CPPTYPE_MESSAGE) {
          if (IsPrinted(message, reflection, *f, false) && !member(*f)) return false;
        } else {
          if (!PrintUnlessZero(message, reflection, *f, &first)) return false;
        }
      }
    } else {
      for (const FieldPlan& f : plan.fields) {
        if (!f.goes_last && IsPrinted(message, reflection, f, true) && !member(f)) {
          return false;
        }
      }
      for (const FieldPlan* f : plan.by_number) {
        if (f->goes_last && reflection->HasField(message, f->field) && !member(*f)) {
          return false;
        }
      }
    }
    out_->push_back('}');
    return true;
  }

  // A proto3 scalar without presence, as a member if it is on the wire: when it is not zero
  // (or empty). For floating point that means other than +0.0: -0.0 is written. One read
  // of the value instead of reflection's HasField and then the getter.
  bool PrintUnlessZero(const Message& message, const Reflection* r, const FieldPlan& f,
                       bool* first) {
    auto key = [&] {
      if (!*first) out_->push_back(',');
      *first = false;
      out_->append(f.key);
    };
    switch (f.cpp_type) {
      case FieldDescriptor::CPPTYPE_INT32:
        if (int32_t v = r->GetInt32(message, f.field); v != 0) {
          key();
          AppendInt(out_, v);
        }
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        if (uint32_t v = r->GetUInt32(message, f.field); v != 0) {
          key();
          AppendInt(out_, v);
        }
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        if (int64_t v = r->GetInt64(message, f.field); v != 0) {
          key();
          AppendQuotedInt(out_, v);
        }
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        if (uint64_t v = r->GetUInt64(message, f.field); v != 0) {
          key();
          AppendQuotedInt(out_, v);
        }
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double v = r->GetDouble(message, f.field);
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof(bits));
        if (bits != 0) {
          key();
          AppendDouble(out_, v);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const float v = r->GetFloat(message, f.field);
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof(bits));
        if (bits != 0) {
          key();
          AppendFloat(out_, v);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        if (r->GetBool(message, f.field)) {
          key();
          AppendBool(out_, true);
        }
        return true;
      case FieldDescriptor::CPPTYPE_ENUM:
        if (int v = r->GetEnumValue(message, f.field); v != 0) {
          key();
          return PrintEnum(f, v);
        }
        return true;
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& v = r->GetStringReference(message, f.field, &scratch);
        if (!v.empty()) {
          key();
          PrintString(f, v);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return false;  // not a scalar
  }

  bool PrintEnum(const FieldPlan& f, int number) {
    // NullValue prints as null; it only occurs inside Struct, which protobuf prints.
    if (f.null_value) return false;
    if (const auto* value = f.enum_type->FindValueByNumber(number)) {
      out_->push_back('"');
      out_->append(value->name());
      out_->push_back('"');
    } else {
      AppendInt(out_, number);  // a value this binary does not know
    }
    return true;
  }

  void PrintString(const FieldPlan& f, const std::string& value) {
    if (f.bytes) {
      AppendBytes(out_, value);
    } else {
      AppendProtoJsonString(out_, value);
    }
  }

  bool PrintSingular(const Message& message, const Reflection* r, const FieldPlan& f) {
    switch (f.cpp_type) {
      case FieldDescriptor::CPPTYPE_INT32:
        AppendInt(out_, r->GetInt32(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        AppendInt(out_, r->GetUInt32(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        AppendQuotedInt(out_, r->GetInt64(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        AppendQuotedInt(out_, r->GetUInt64(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        AppendDouble(out_, r->GetDouble(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_FLOAT:
        AppendFloat(out_, r->GetFloat(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        AppendBool(out_, r->GetBool(message, f.field));
        return true;
      case FieldDescriptor::CPPTYPE_ENUM:
        return PrintEnum(f, r->GetEnumValue(message, f.field));
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        PrintString(f, r->GetStringReference(message, f.field, &scratch));
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return PrintMessage(r->GetMessage(message, f.field));
    }
    return false;
  }

  bool PrintRepeated(const Message& message, const Reflection* r, const FieldPlan& f) {
    const int size = r->FieldSize(message, f.field);
    out_->push_back('[');
    std::string scratch;
    for (int i = 0; i < size; ++i) {
      if (i > 0) out_->push_back(',');
      switch (f.cpp_type) {
        case FieldDescriptor::CPPTYPE_INT32:
          AppendInt(out_, r->GetRepeatedInt32(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          AppendInt(out_, r->GetRepeatedUInt32(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          AppendQuotedInt(out_, r->GetRepeatedInt64(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          AppendQuotedInt(out_, r->GetRepeatedUInt64(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          AppendDouble(out_, r->GetRepeatedDouble(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          AppendFloat(out_, r->GetRepeatedFloat(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          AppendBool(out_, r->GetRepeatedBool(message, f.field, i));
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          if (!PrintEnum(f, r->GetRepeatedEnumValue(message, f.field, i))) return false;
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          PrintString(f, r->GetRepeatedStringReference(message, f.field, i, &scratch));
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (!PrintMessage(r->GetRepeatedMessage(message, f.field, i))) return false;
          break;
      }
    }
    out_->push_back(']');
    return true;
  }

  // JSON object keys are strings, whatever the key type.
  bool PrintMapKey(const Message& entry, const Reflection* r, const FieldPlan& key) {
    switch (key.cpp_type) {
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        AppendProtoJsonString(out_, r->GetStringReference(entry, key.field, &scratch));
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT32:
        AppendQuotedInt(out_, r->GetInt32(entry, key.field));
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        AppendQuotedInt(out_, r->GetUInt32(entry, key.field));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        AppendQuotedInt(out_, r->GetInt64(entry, key.field));
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        AppendQuotedInt(out_, r->GetUInt64(entry, key.field));
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetBool(entry, key.field) ? "\"true\"" : "\"false\"");
        return true;
      default:
        return false;
    }
  }

  // Entries in the order of the repeated view of the map, which reflection builds by
  // walking the map: the order serialization, and so protobuf's JSON, uses. (A map last
  // modified through that repeated view, which reflection alone does, may serialize in
  // another order; messages parsed from the wire or built with the generated API do not.)
  bool PrintMap(const Message& message, const Reflection* r, const FieldPlan& f) {
    const MessagePlan& entry_plan = PlanFor(f.field->message_type());
    if (entry_plan.fields.size() != 2) return false;
    const FieldPlan& key = entry_plan.fields[0];
    const FieldPlan& value = entry_plan.fields[1];
    const int size = r->FieldSize(message, f.field);
    out_->push_back('{');
    for (int i = 0; i < size; ++i) {
      if (i > 0) out_->push_back(',');
      const Message& entry = r->GetRepeatedMessage(message, f.field, i);
      const Reflection* entry_reflection = entry.GetReflection();
      if (!PrintMapKey(entry, entry_reflection, key)) return false;
      out_->push_back(':');
      if (!PrintSingular(entry, entry_reflection, value)) return false;
    }
    out_->push_back('}');
    return true;
  }

  // Reads the int64 field 1 and int32 field 2 of a Timestamp or Duration.
  static bool SecondsAndNanos(const Message& message, const MessagePlan& plan,
                              int64_t* seconds, int32_t* nanos) {
    if (plan.fields.size() != 2) return false;
    const FieldPlan& seconds_field = plan.fields[0];
    const FieldPlan& nanos_field = plan.fields[1];
    if (seconds_field.field->number() != 1 || nanos_field.field->number() != 2 ||
        seconds_field.cpp_type != FieldDescriptor::CPPTYPE_INT64 ||
        nanos_field.cpp_type != FieldDescriptor::CPPTYPE_INT32) {
      return false;
    }
    const Reflection* r = message.GetReflection();
    *seconds = r->GetInt64(message, seconds_field.field);
    *nanos = r->GetInt32(message, nanos_field.field);
    return true;
  }

  // RFC 3339 in UTC: "2027-03-01T14:00:00.250Z".
  bool PrintTimestamp(const Message& message, const MessagePlan& plan) {
    int64_t seconds;
    int32_t nanos;
    if (!SecondsAndNanos(message, plan, &seconds, &nanos)) return false;
    // protobuf refuses to print these; its error is the one to report.
    if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
        nanos >= kNanosPerSecond) {
      return false;
    }
    int64_t days = seconds / 86400;
    int64_t second_of_day = seconds % 86400;
    if (second_of_day < 0) {
      second_of_day += 86400;
      --days;
    }
    int64_t year;
    int month, day;
    CivilFromDays(days, &year, &month, &day);
    out_->push_back('"');
    AppendPadded(out_, year, 4);
    out_->push_back('-');
    AppendPadded(out_, month, 2);
    out_->push_back('-');
    AppendPadded(out_, day, 2);
    out_->push_back('T');
    AppendPadded(out_, second_of_day / 3600, 2);
    out_->push_back(':');
    AppendPadded(out_, second_of_day / 60 % 60, 2);
    out_->push_back(':');
    AppendPadded(out_, second_of_day % 60, 2);
    AppendNanos(out_, nanos);
    out_->append("Z\"");
    return true;
  }

  // "-1.500s": seconds with the sign of the whole duration.
  bool PrintDuration(const Message& message, const MessagePlan& plan) {
    int64_t seconds;
    int32_t nanos;
    if (!SecondsAndNanos(message, plan, &seconds, &nanos)) return false;
    // Out of range or mixed signs: protobuf reports an error (or prints something odd);
    // either way it is protobuf's to print.
    if (seconds < -kMaxDurationSeconds || seconds > kMaxDurationSeconds ||
        nanos <= -kNanosPerSecond || nanos >= kNanosPerSecond || (seconds < 0 && nanos > 0) ||
        (seconds > 0 && nanos < 0)) {
      return false;
    }
    out_->push_back('"');
    if (seconds < 0 || nanos < 0) out_->push_back('-');
    AppendInt(out_, seconds < 0 ? -seconds : seconds);
    AppendNanos(out_, nanos < 0 ? -nanos : nanos);
    out_->append("s\"");
    return true;
  }

  // "updateTime,site.displayName": the paths in lowerCamelCase, comma-joined.
  bool PrintFieldMask(const Message& message, const MessagePlan& plan) {
    if (plan.fields.size() != 1 || plan.fields[0].field->number() != 1 ||
        plan.fields[0].cpp_type != FieldDescriptor::CPPTYPE_STRING || !plan.fields[0].repeated) {
      return false;
    }
    const FieldDescriptor* paths = plan.fields[0].field;
    const Reflection* r = message.GetReflection();
    const int size = r->FieldSize(message, paths);
    std::string scratch;
    std::string joined;
    for (int i = 0; i < size; ++i) {
      const std::string& path = r->GetRepeatedStringReference(message, paths, i, &scratch);
      // protobuf separates a path from what is written so far, so a path that converts to
      // nothing (an empty one, "_") at the start adds no comma.
      if (!joined.empty()) joined.push_back(',');
      if (!AppendCamelCasePath(&joined, path)) return false;
    }
    AppendProtoJsonString(out_, joined);
    return true;
  }

  // Field paths as written in the protos (lower_snake_case segments joined by '.') only;
  // protobuf's conversion of anything else (capitals, quoted map keys) is left to it. In a
  // segment an underscore drops out and capitalizes the letter after it, except while no
  // character has been written yet: "_ab_c" → "abC", "a__b" → "aB", "a_1b" → "a1b".
  static bool AppendCamelCasePath(std::string* out, const std::string& path) {
    bool capitalize_next = false;
    bool segment_started = false;  // a character of this segment has been written
    bool past_first_word = false;
    for (char c : path) {
      if (c == '.') {
        out->push_back('.');
        capitalize_next = false;
        segment_started = false;
        past_first_word = false;
        continue;
      }
      const bool lower = c >= 'a' && c <= 'z';
      const bool digit = c >= '0' && c <= '9';
      if (c == '_') {
        capitalize_next = true;
        if (segment_started) past_first_word = true;
        continue;
      }
      if (!lower && !digit) return false;
      if (past_first_word && capitalize_next) {
        capitalize_next = false;
        out->push_back(lower ? static_cast<char>(c - 'a' + 'A') : c);
      } else {
        out->push_back(c);
      }
      segment_started = true;
    }
    return true;
  }

  const bool emit_defaults_;
  std::string* const out_;
  int depth_ = 0;
  std::vector<std::pair<const Descriptor*, std::unique_ptr<MessagePlan>>> own_plans_;
};

google::protobuf::util::JsonPrintOptions ProtobufOptions(bool emit_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = emit_defaults;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = false;
  return options;
}

absl::StatusOr<std::string> ProtobufMessageToJson(const Message& message, bool emit_defaults) {
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, ProtobufOptions(emit_defaults));
  if (!status.ok()) return absl::InternalError(std::string(status.message()));
  return out;
}

// Length of the JSON value at the start of `json` (well-formed JSON, as protobuf prints it).
size_t JsonValueLength(std::string_view json) {
  int nesting = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (nesting == 0) return i + 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        ++nesting;
        break;
      case '}':
      case ']':
        if (nesting == 0) return i;  // the end of the enclosing object
        if (--nesting == 0) return i + 1;
        break;
      case ',':
        if (nesting == 0) return i;
        break;
      default:
        break;
    }
  }
  return json.size();
}

// The text of the member whose key is `quoted_key` (as printed, quotes included) in the
// JSON object `object`.
std::optional<std::string_view> MemberText(std::string_view object, std::string_view quoted_key) {
  if (object.empty() || object.front() != '{') return std::nullopt;
  size_t i = 1;
  while (i < object.size() && object[i] == '"') {
    const size_t key_length = JsonValueLength(object.substr(i));
    std::string_view key = object.substr(i, key_length);
    i += key_length + 1;  // the key and ':'
    const size_t value_length = JsonValueLength(object.substr(i));
    if (key == quoted_key) return object.substr(i, value_length);
    i += value_length;
    if (i < object.size() && object[i] == ',') ++i;
  }
  return std::nullopt;
}

}  // namespace

void AppendProtoJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  bool plain = true;
  for (char c : text) {
    if (NeedsCare(static_cast<unsigned char>(c))) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(text);
  } else {
    AppendEscapedSlow(out, text);
  }
  out->push_back('"');
}

bool AppendMessageJson(const Message& message, bool emit_defaults, std::string* out) {
  Printer printer(emit_defaults, out);
  return printer.PrintMessage(message);
}

absl::StatusOr<std::string> MessageToJson(const Message& message, bool emit_defaults) {
  std::string out;
  out.reserve(2048);
  if (AppendMessageJson(message, emit_defaults, &out)) return out;
  return ProtobufMessageToJson(message, emit_defaults);
}

absl::StatusOr<std::optional<std::string>> FieldToJson(const Message& message,
                                                       const FieldDescriptor* field,
                                                       bool emit_defaults) {
  // A well-known type prints as a string, number, list or an object keyed by something
  // other than its fields: it has no members.
  const Descriptor* type = message.GetDescriptor();
  if (field->containing_type() != type) {
    return absl::InternalError(absl::StrCat("field ", field->full_name(), " is not a field of ",
                                            type->full_name()));
  }
  if (type->well_known_type() != Descriptor::WELLKNOWNTYPE_UNSPECIFIED) return std::nullopt;
  std::string out;
  Printer printer(emit_defaults, &out);
  const MessagePlan& plan = printer.PlanFor(type);
  if (plan.proto3) {
    const FieldPlan& f = plan.fields[field->index()];
    const Reflection* reflection = message.GetReflection();
    if (!IsPrinted(message, reflection, f, emit_defaults)) return std::nullopt;
    if (printer.PrintFieldValue(message, reflection, f)) return out;
  }
  // Left to protobuf: print the whole message and take the member's text from it.
  absl::StatusOr<std::string> whole = ProtobufMessageToJson(message, emit_defaults);
  if (!whole.ok()) return whole.status();
  std::string_view key = plan.fields[field->index()].key;  // `"name":`
  std::optional<std::string_view> member = MemberText(*whole, key.substr(0, key.size() - 1));
  if (!member.has_value()) return std::nullopt;
  return std::string(*member);
}

}  // namespace clerkship::gateway
