#include "daemon/profile_config.h"

#include <set>

namespace aikernel::daemon {
namespace {

Status Bad(const std::string& file, const toml::node& n, const std::string& key,
           const std::string& why) {
  const auto& b = n.source().begin;
  return absl::InvalidArgumentError(
      absl::StrCat(file, ":", b.line, ":", b.column, ": ", key, ": ", why));
}

class ProfileReader {
 public:
  ProfileReader(const std::string& file, const std::string& prefix)
      : file_(file), prefix_(prefix) {}

  Status Read(const toml::table& t, agents::AgentProfile* out) {
    sandbox::Profile& p = out->sandbox;
    for (const auto& [k, v] : t) {
      const std::string key(k.str());
      const std::string dotted = prefix_ + key;
      Status s;
      if (key == "base") continue;  // applied by the caller
      if (key == "namespaces") s = Namespaces(v, dotted, &p);
      else if (key == "network") s = Network(v, dotted, &p);
      else if (key == "readonly_root") s = Bool(v, dotted, &p.readonly_root);
      else if (key == "private_tmp") s = Bool(v, dotted, &p.private_tmp);
      else if (key == "landlock") s = Bool(v, dotted, &p.landlock);
      else if (key == "seccomp") s = Bool(v, dotted, &p.seccomp);
      else if (key == "readonly_paths") s = Paths(v, dotted, &p.readonly_paths);
      else if (key == "writable_paths") s = Paths(v, dotted, &p.writable_paths);
      else if (key == "uid") s = Id(v, dotted, &out->uid);
      else if (key == "gid") s = Id(v, dotted, &out->gid);
      else if (key == "rlimits") s = Caps(v, dotted, &out->caps);
      else
        s = Bad(file_, v, dotted,
                "unknown key (known: base, namespaces, network, readonly_root, private_tmp, "
                "landlock, seccomp, readonly_paths, writable_paths, uid, gid, [rlimits])");
      AIK_RETURN_IF_ERROR(s);
    }
    return Check(t, *out);
  }

 private:
  Status Bool(const toml::node& n, const std::string& key, bool* out) {
    if (!n.is_boolean()) return Bad(file_, n, key, "expected true or false");
    *out = *n.value<bool>();
    return absl::OkStatus();
  }
  Status Namespaces(const toml::node& n, const std::string& key, sandbox::Profile* p) {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Bad(file_, n, key, "expected an array of namespace names");
    p->new_user_ns = p->new_pid_ns = p->new_mount_ns = p->new_ipc_ns = p->new_uts_ns = false;
    for (const toml::node& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v) return Bad(file_, e, key, "expected namespace names (strings)");
      if (*v == "user") p->new_user_ns = true;
      else if (*v == "pid") p->new_pid_ns = true;
      else if (*v == "mount") p->new_mount_ns = true;
      else if (*v == "ipc") p->new_ipc_ns = true;
      else if (*v == "uts") p->new_uts_ns = true;
      else if (*v == "net")
        return Bad(file_, e, key, "the network namespace is set by 'network' (none, loopback, host)");
      else
        return Bad(file_, e, key,
                   absl::StrCat("unknown namespace '", *v, "' (known: user, pid, mount, ipc, uts)"));
    }
    return absl::OkStatus();
  }
  Status Network(const toml::node& n, const std::string& key, sandbox::Profile* p) {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) return Bad(file_, n, key, "expected \"none\", \"loopback\" or \"host\"");
    if (*v == "none") p->new_net_ns = true, p->loopback = false;
    else if (*v == "loopback") p->new_net_ns = true, p->loopback = true;
    else if (*v == "host") p->new_net_ns = false, p->loopback = true;
    else return Bad(file_, n, key, absl::StrCat("'", *v, "': expected none, loopback or host"));
    return absl::OkStatus();
  }
  Status Paths(const toml::node& n, const std::string& key, std::vector<std::string>* out) {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Bad(file_, n, key, "expected an array of absolute paths");
    out->clear();
    for (const toml::node& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v || v->empty() || (*v)[0] != '/') {
        return Bad(file_, e, key, "expected absolute paths");
      }
      out->push_back(*v);
    }
    return absl::OkStatus();
  }
  Status Id(const toml::node& n, const std::string& key, int64_t* out) {
    if (!n.is_integer()) return Bad(file_, n, key, "expected an integer");
    int64_t v = *n.value<int64_t>();
    if (v < 1 || v > 4294967294LL) {
      return Bad(file_, n, key, absl::StrCat("must be between 1 and 4294967294, got ", v));
    }
    *out = v;
    return absl::OkStatus();
  }
  Status Caps(const toml::node& n, const std::string& key, agents::ProfileCaps* caps) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Bad(file_, n, key, "expected a table (memory_bytes, pids, open_files)");
    for (const auto& [k, v] : *t) {
      const std::string dotted = key + "." + std::string(k.str());
      int64_t* field = k.str() == "memory_bytes" ? &caps->memory_bytes
                       : k.str() == "pids"       ? &caps->pids
                       : k.str() == "open_files" ? &caps->open_files
                                                 : nullptr;
      if (field == nullptr) {
        return Bad(file_, v, dotted, "unknown key (known: memory_bytes, pids, open_files)");
      }
      if (!v.is_integer() || *v.value<int64_t>() < 0) {
        return Bad(file_, v, dotted, "expected an integer >= 0 (0: no cap)");
      }
      *field = *v.value<int64_t>();
    }
    return absl::OkStatus();
  }
  // What Launch would refuse, caught at load with the table's position.
  Status Check(const toml::table& t, const agents::AgentProfile& ap) {
    const sandbox::Profile& p = ap.sandbox;
    if ((p.readonly_root || p.private_tmp) && !p.new_mount_ns) {
      return Bad(file_, t, prefix_ + "namespaces",
                 "readonly_root and private_tmp need the mount namespace");
    }
    if (p.landlock && !p.new_mount_ns && p.readonly_paths.empty()) {
      return Bad(file_, t, prefix_ + "readonly_paths",
                 "landlock without readonly_paths would leave the agent unable to run anything");
    }
    return absl::OkStatus();
  }

  const std::string& file_;
  const std::string prefix_;
};

}  // namespace

Status ParseProfiles(const toml::node& section, const std::string& file,
                     agents::ProfileMap* profiles) {
  const toml::table* all = section.as_table();
  if (all == nullptr) return Bad(file, section, "profiles", "expected tables [profiles.<name>]");
  const agents::ProfileMap builtin = agents::BuiltinProfiles();
  for (const auto& [k, v] : *all) {
    const std::string name(k.str());
    const std::string prefix = "profiles." + name + ".";
    const toml::table* t = v.as_table();
    if (t == nullptr) return Bad(file, v, "profiles." + name, "expected a table");
    bool valid = !name.empty() && name.size() <= 63;
    for (char c : name) {
      valid &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    }
    if (!valid) {
      return Bad(file, v, "profiles." + name,
                 "a profile name is 1-63 characters of a-z, 0-9, '.', '_', '-'");
    }
    std::string base = builtin.count(name) != 0 ? name : "default";
    if (const toml::node* b = t->get("base")) {
      auto bv = b->value<std::string>();
      if (!b->is_string() || !bv || builtin.count(*bv) == 0) {
        return Bad(file, *b, prefix + "base", "expected \"default\" or \"trusted\"");
      }
      base = *bv;
    }
    agents::AgentProfile p = builtin.at(base);
    p.sandbox.name = name;
    ProfileReader reader(file, prefix);
    AIK_RETURN_IF_ERROR(reader.Read(*t, &p));
    (*profiles)[name] = std::move(p);
  }
  return absl::OkStatus();
}

}  // namespace aikernel::daemon
