#include "kernel/request_digest.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

namespace aikernel::kernel {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using NameSet = std::set<std::string, std::less<>>;

constexpr char kRedacted[] = "[redacted]";

// True if any field reachable from `d` is named in `names`; cycles through
// recursive message types are cut by `seen`.
bool MayRedact(const google::protobuf::Descriptor* d, const NameSet& names,
               std::set<const google::protobuf::Descriptor*>& seen) {
  if (!seen.insert(d).second) return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (names.count(f->name()) != 0) return true;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        MayRedact(f->message_type(), names, seen)) {
      return true;
    }
  }
  return false;
}

void Redact(Message* m, const NameSet& names) {
  const auto* refl = m->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(*m, &fields);
  for (const FieldDescriptor* f : fields) {
    const bool secret = names.count(f->name()) != 0;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && secret) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(*m, f); ++i) {
          refl->SetRepeatedString(m, f, i, kRedacted);
        }
      } else {
        refl->SetString(m, f, kRedacted);
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(*m, f); ++i) {
          Redact(refl->MutableRepeatedMessage(m, f, i), names);
        }
      } else {
        Redact(refl->MutableMessage(m, f), names);
      }
    }
  }
}

// Appends the deterministic serialization of `m` (sizes cached) to `out`.
void AppendDeterministic(const Message& m, std::string* out) {
  google::protobuf::io::StringOutputStream sos(out);
  google::protobuf::io::CodedOutputStream cos(&sos);
  cos.SetSerializationDeterministic(true);
  m.SerializeWithCachedSizes(&cos);
}

}  // namespace

void RequestDigester::SetRedactedFields(const std::vector<std::string>& names) {
  auto set = std::make_shared<NameSet>(names.begin(), names.end());
  std::lock_guard<std::mutex> lock(mu_);
  names_ = std::move(set);
  may_redact_.clear();
}

std::shared_ptr<const RequestDigester::NameSet> RequestDigester::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  return names_;
}

bool RequestDigester::MayRedact(const google::protobuf::Descriptor* d,
                                std::shared_ptr<const NameSet>* names) const {
  std::lock_guard<std::mutex> lock(mu_);
  *names = names_;
  if (names_->empty()) return false;
  auto it = may_redact_.find(d);
  if (it != may_redact_.end()) return it->second;
  std::set<const google::protobuf::Descriptor*> seen;
  const bool may = aikernel::kernel::MayRedact(d, *names_, seen);
  may_redact_.emplace(d, may);
  return may;
}

audit::Hash RequestDigester::Digest(const Message& request) const {
  // Per thread: the input is built in place, with no allocation once warm.
  thread_local std::string input;
  const std::string& type = request.GetDescriptor()->full_name();
  input.assign(type).push_back('\0');
  std::shared_ptr<const NameSet> names;
  if (MayRedact(request.GetDescriptor(), &names)) {
    std::unique_ptr<Message> copy(request.New());
    copy->CopyFrom(request);
    Redact(copy.get(), *names);
    copy->ByteSizeLong();  // caches sizes for SerializeWithCachedSizes
    AppendDeterministic(*copy, &input);
  } else {
    request.ByteSizeLong();
    AppendDeterministic(request, &input);
  }
  return audit::Sha256Of(input);
}

}  // namespace aikernel::kernel
