#include "daemon/config.h"

// toml++ without exceptions (errors are values here), compiled into this one
// translation unit: Debian's shared build of it uses exceptions.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "daemon/profile_config.h"
#include "identity/spiffe_id.h"
#include "tools/mcp/headers.h"
#include "tools/mcp/manager.h"

namespace aikernel::daemon {
namespace {

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn",
                                          "error", "critical", "off"};

std::string Where(const std::string& file, const toml::source_region& r) {
  return absl::StrCat(file, ":", r.begin.line, ":", r.begin.column);
}

Status Bad(const std::string& file, const toml::node& n, const std::string& key,
           const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat(Where(file, n.source()), ": ", key, ": ", why));
}

// One setter per known key; each validates and stores its value.
using Setter = std::function<Status(const toml::node&, const std::string& key,
                                    const std::string& file, Config&)>;

Setter String(std::string Config::*field, bool allow_empty = true) {
  return [=](const toml::node& n, const std::string& key, const std::string& file,
             Config& c) -> Status {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) return Bad(file, n, key, "expected a string");
    if (!allow_empty && v->empty()) return Bad(file, n, key, "must not be empty");
    c.*field = *v;
    return absl::OkStatus();
  };
}

Setter Integer(int64_t Config::*field, int64_t min, int64_t max) {
  return [=](const toml::node& n, const std::string& key, const std::string& file,
             Config& c) -> Status {
    if (!n.is_integer()) return Bad(file, n, key, "expected an integer");
    int64_t v = *n.value<int64_t>();
    if (v < min || v > max) {
      return Bad(file, n, key,
                 absl::StrCat("must be between ", min, " and ", max, ", got ", v));
    }
    c.*field = v;
    return absl::OkStatus();
  };
}

// "full" or "normal" (SQLite's synchronous pragma for a database).
Setter Synchronous(std::string Config::*field) {
  return [=](const toml::node& n, const std::string& key, const std::string& file,
             Config& c) -> Status {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v || (*v != "full" && *v != "normal")) {
      return Bad(file, n, key, "expected \"full\" or \"normal\"");
    }
    c.*field = *v;
    return absl::OkStatus();
  };
}

Setter Duration(int64_t Config::*field, int64_t min_s, int64_t max_s) {
  return [=](const toml::node& n, const std::string& key, const std::string& file,
             Config& c) -> Status {
    auto v = n.value<std::string>();
    int64_t s = 0;
    if (!n.is_string() || !v || !ParseDurationSeconds(*v, &s)) {
      return Bad(file, n, key, "expected a duration as a string, e.g. \"90s\", \"5m\", \"1h\", \"365d\"");
    }
    if (s < min_s || s > max_s) {
      return Bad(file, n, key,
                 absl::StrCat("must be between ", min_s, "s and ", max_s, "s, got ", s, "s"));
    }
    c.*field = s;
    return absl::OkStatus();
  };
}

// A [section.sub] table: its keys are set by `keys` (dotted "section.sub.key").
Setter SubTable(std::map<std::string, Setter> keys) {
  return [keys = std::move(keys)](const toml::node& n, const std::string& key,
                                  const std::string& file, Config& c) -> Status {
    const toml::table* t = n.as_table();
    if (t == nullptr) return Bad(file, n, key, "expected a table");
    for (const auto& [k, v] : *t) {
      auto it = keys.find(std::string(k.str()));
      if (it == keys.end()) {
        std::string names;
        for (const auto& [name, _] : keys) absl::StrAppend(&names, names.empty() ? "" : ", ", name);
        return Bad(file, v, absl::StrCat(key, ".", std::string(k.str())),
                   absl::StrCat("unknown key (known in [", key, "]: ", names, ")"));
      }
      AIK_RETURN_IF_ERROR(it->second(v, absl::StrCat(key, ".", std::string(k.str())), file, c));
    }
    return absl::OkStatus();
  };
}

Setter StringList(std::vector<std::string> Config::*field) {
  return [=](const toml::node& n, const std::string& key, const std::string& file,
             Config& c) -> Status {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Bad(file, n, key, "expected an array of strings");
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v || v->empty()) return Bad(file, e, key, "expected non-empty strings");
      out.push_back(*v);
    }
    c.*field = std::move(out);
    return absl::OkStatus();
  };
}

// [tools.fs] roots = [{name = "work", path = "/srv/work", writable = true}, ...]
Status FsRoots(const toml::node& n, const std::string& key, const std::string& file, Config& c) {
  const toml::array* a = n.as_array();
  if (a == nullptr) return Bad(file, n, key, "expected an array of {name, path, writable} tables");
  std::vector<tools::FsRoot> roots;
  for (const toml::node& e : *a) {
    const toml::table* t = e.as_table();
    if (t == nullptr) return Bad(file, e, key, "expected {name = \"...\", path = \"/...\"}");
    tools::FsRoot r;
    for (const auto& [k, v] : *t) {
      const std::string field(k.str());
      if (field == "name" || field == "path") {
        auto s = v.value<std::string>();
        if (!v.is_string() || !s || s->empty()) {
          return Bad(file, v, key + "." + field, "expected a non-empty string");
        }
        (field == "name" ? r.name : r.path) = *s;
      } else if (field == "writable") {
        if (!v.is_boolean()) return Bad(file, v, key + ".writable", "expected true or false");
        r.writable = *v.value<bool>();
      } else {
        return Bad(file, v, key + "." + field, "unknown key (known: name, path, writable)");
      }
    }
    if (r.name.empty() || r.path.empty()) {
      return Bad(file, e, key, "each root needs a name and a path");
    }
    if (r.path.front() != '/') return Bad(file, e, key + ".path", "must be an absolute path");
    if (r.name.find_first_of("/:") != std::string::npos) {
      return Bad(file, e, key + ".name", "must not contain '/' or ':'");
    }
    for (const auto& o : roots) {
      if (o.name == r.name) return Bad(file, e, key, "duplicate root name '" + r.name + "'");
    }
    roots.push_back(std::move(r));
  }
  c.tools_fs_roots = std::move(roots);
  return absl::OkStatus();
}

const std::map<std::string, std::map<std::string, Setter>>& Schema() {
  static const auto* schema = new std::map<std::string, std::map<std::string, Setter>>{
      {"node", {{"name", String(&Config::node_name)}}},
      {"daemon",
       {{"socket", String(&Config::socket, false)},
        {"socket_mode",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           auto v = n.value<std::string>();
           if (!n.is_string() || !v || v->empty() || v->size() > 4 ||
               v->find_first_not_of("01234567") != std::string::npos) {
             return Bad(file, n, key, "expected an octal mode as a string, e.g. \"0660\"");
           }
           mode_t m = static_cast<mode_t>(std::stoul(*v, nullptr, 8));
           if (m & 0007) {
             return Bad(file, n, key, "must not grant access to others (last digit must be 0)");
           }
           c.socket_mode = m;
           return absl::OkStatus();
         }},
        {"socket_group", String(&Config::socket_group)},
        {"admin_group", String(&Config::admin_group)},
        {"state_dir", String(&Config::state_dir, false)},
        {"log_level",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           auto v = n.value<std::string>();
           if (!n.is_string() || !v || kLogLevels.count(*v) == 0) {
             return Bad(file, n, key,
                        "expected one of trace, debug, info, warn, error, critical, off");
           }
           c.log_level = *v;
           return absl::OkStatus();
         }},
        {"max_message_bytes", Integer(&Config::max_message_bytes, 4096, 1 << 30)},
        {"drain_timeout_ms", Integer(&Config::drain_timeout_ms, 0, 600000)},
        {"logs_dir", String(&Config::logs_dir, false)}}},
      {"agents",
       {{"enabled",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           if (!n.is_boolean()) return Bad(file, n, key, "expected true or false");
           c.agents_enabled = *n.value<bool>();
           return absl::OkStatus();
         }},
        {"max_running", Integer(&Config::agents_max_running, 1, 100000)},
        {"memory_budget_bytes", Integer(&Config::agents_memory_budget_bytes, 1 << 20, 1ll << 50)},
        {"aging_interval_ms", Integer(&Config::agents_aging_interval_ms, 1, 86400000)},
        {"default_uid", Integer(&Config::agents_default_uid, 1, 4294967294ll)},
        {"default_gid", Integer(&Config::agents_default_gid, 1, 4294967294ll)},
        {"log_max_bytes", Integer(&Config::agents_log_max_bytes, 4096, 1ll << 40)},
        {"log_keep", Integer(&Config::agents_log_keep, 0, 64)},
        {"specs_dir", String(&Config::agents_specs_dir)}}},
      {"audit",
       {{"synchronous", Synchronous(&Config::audit_synchronous)},
        {"checkpoint_every_records",
         Integer(&Config::checkpoint_every_records, 1, 100000000)},
        {"checkpoint_every_ms", Integer(&Config::checkpoint_every_ms, 1, 86400000)},
        {"max_batch", Integer(&Config::max_batch, 1, 1000000)},
        {"redact_fields",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           const toml::array* a = n.as_array();
           if (a == nullptr) return Bad(file, n, key, "expected an array of strings");
           std::vector<std::string> out;
           for (const toml::node& e : *a) {
             auto v = e.value<std::string>();
             if (!e.is_string() || !v || v->empty()) {
               return Bad(file, e, key, "expected non-empty strings (field names)");
             }
             out.push_back(*v);
           }
           c.redact_fields = std::move(out);
           return absl::OkStatus();
         }}}},
      {"policy",
       {{"dir", String(&Config::policy_dir, false)},
        {"approval_timeout_ms", Integer(&Config::approval_timeout_ms, 1, 86400000)}}},
      {"tools",
       {{"max_args_bytes", Integer(&Config::tools_max_args_bytes, 2, 1 << 30)},
        {"max_result_bytes", Integer(&Config::tools_max_result_bytes, 2, 1 << 30)},
        {"call_timeout_ms", Integer(&Config::tools_call_timeout_ms, 1, 86400000)},
        {"fs", SubTable({{"roots", FsRoots},
                         {"max_read_bytes", Integer(&Config::tools_fs_max_read_bytes, 0, 1 << 30)},
                         {"max_write_bytes",
                          Integer(&Config::tools_fs_max_write_bytes, 0, 1 << 30)}})},
        {"http",
         SubTable({{"max_response_bytes",
                    Integer(&Config::tools_http_max_response_bytes, 0, 1 << 30)},
                   {"timeout_ms", Integer(&Config::tools_http_timeout_ms, 1, 3600000)},
                   {"max_redirects", Integer(&Config::tools_http_max_redirects, 0, 50)}})},
        {"exec",
         SubTable({{"profiles", StringList(&Config::tools_exec_profiles)},
                   {"max_output_bytes",
                    Integer(&Config::tools_exec_max_output_bytes, 0, 1 << 30)},
                   {"timeout_ms", Integer(&Config::tools_exec_timeout_ms, 1, 3600000)},
                   {"uid", Integer(&Config::tools_exec_uid, 1, 4294967294ll)},
                   {"gid", Integer(&Config::tools_exec_gid, 1, 4294967294ll)}})}}},
      {"memory",
       {{"synchronous", Synchronous(&Config::memory_synchronous)},
        {"default_max_bytes",
         Integer(&Config::memory_default_max_bytes, 0, std::numeric_limits<int64_t>::max())},
        {"default_max_records",
         Integer(&Config::memory_default_max_records, 0, std::numeric_limits<int64_t>::max())}}},
      {"msg",
       {{"synchronous", Synchronous(&Config::msg_synchronous)},
        {"max_payload_bytes", Integer(&Config::msg_max_payload_bytes, 1, 64ll << 20)},
        {"default_ttl_ms", Integer(&Config::msg_default_ttl_ms, 1, 365ll * 86400000)}}},
      {"identity",
       {{"trust_domain",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           auto v = n.value<std::string>();
           if (!n.is_string() || !v) return Bad(file, n, key, "expected a string");
           if (!v->empty()) {
             if (Status s = identity::ValidateTrustDomain(*v); !s.ok()) {
               return Bad(file, n, key,
                          absl::StrCat("not a SPIFFE trust domain: ", s.message()));
             }
           }
           c.trust_domain = *v;
           return absl::OkStatus();
         }},
        {"x509_svid_ttl", Duration(&Config::x509_svid_ttl_s, 1, 86400 * 366)},
        {"jwt_svid_ttl", Duration(&Config::jwt_svid_ttl_s, 1, 86400 * 366)},
        {"max_svid_ttl", Duration(&Config::max_svid_ttl_s, 1, 86400 * 366)},
        {"ca_ttl", Duration(&Config::ca_ttl_s, 2, 86400 * 366 * 20)},
        {"clock_skew", Duration(&Config::clock_skew_s, 0, 3600)}}},
      {"peer",
       {{"listen", String(&Config::peer_listen)},
        {"peers",
         [](const toml::node& n, const std::string& key, const std::string& file,
            Config& c) -> Status {
           const toml::array* a = n.as_array();
           if (a == nullptr) {
             return Bad(file, n, key,
                        "expected an array of tables {name, trust_domain, address, bundle_file}");
           }
           std::vector<Config::PeerEntry> out;
           for (const toml::node& e : *a) {
             const toml::table* t = e.as_table();
             if (t == nullptr) return Bad(file, e, key, "expected a table per peer");
             Config::PeerEntry p;
             for (const auto& [k, v] : *t) {
               auto s = v.value<std::string>();
               if (!v.is_string() || !s || s->empty()) {
                 return Bad(file, v, key + "." + std::string(k.str()), "expected a non-empty string");
               }
               const std::string name(k.str());
               if (name == "name") p.name = *s;
               else if (name == "trust_domain") p.trust_domain = *s;
               else if (name == "address") p.address = *s;
               else if (name == "bundle_file") p.bundle_file = *s;
               else return Bad(file, v, key + "." + name,
                               "unknown key (known: name, trust_domain, address, bundle_file)");
             }
             if (p.name.empty() || p.trust_domain.empty() || p.address.empty() ||
                 p.bundle_file.empty()) {
               return Bad(file, e, key, "each peer needs name, trust_domain, address, bundle_file");
             }
             out.push_back(std::move(p));
           }
           c.peers = std::move(out);
           return absl::OkStatus();
         }}}},
  };
  return *schema;
}

// One [[mcp]] entry. Each key is checked like a top-level one; the entry
// is then validated as a whole (names, profile, timeouts).
Status ParseMcpEntry(const toml::table& t, const std::string& file, size_t index,
                     tools::mcp::ServerConfig& c) {
  const std::string prefix = absl::StrCat("mcp[", index, "].");
  auto str = [&](const toml::node& n, const std::string& key, std::string& out) -> Status {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) return Bad(file, n, prefix + key, "expected a string");
    out = *v;
    return absl::OkStatus();
  };
  auto strings = [&](const toml::node& n, const std::string& key,
                     std::vector<std::string>& out) -> Status {
    const toml::array* a = n.as_array();
    if (a == nullptr) return Bad(file, n, prefix + key, "expected an array of strings");
    out.clear();
    for (const toml::node& e : *a) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v) return Bad(file, e, prefix + key, "expected strings");
      out.push_back(*v);
    }
    return absl::OkStatus();
  };
  auto integer = [&](const toml::node& n, const std::string& key, int64_t& out, int64_t min,
                     int64_t max) -> Status {
    if (!n.is_integer()) return Bad(file, n, prefix + key, "expected an integer");
    int64_t v = *n.value<int64_t>();
    if (v < min || v > max) {
      return Bad(file, n, prefix + key,
                 absl::StrCat("must be between ", min, " and ", max, ", got ", v));
    }
    out = v;
    return absl::OkStatus();
  };
  for (const auto& [k, n] : t) {
    const std::string key(k.str());
    Status s;
    if (key == "name") {
      s = str(n, key, c.name);
    } else if (key == "command") {
      s = str(n, key, c.command);
    } else if (key == "url") {
      s = str(n, key, c.url);
    } else if (key == "args") {
      s = strings(n, key, c.args);
    } else if (key == "env") {
      const toml::table* e = n.as_table();
      if (e == nullptr) return Bad(file, n, prefix + key, "expected a table of strings");
      for (const auto& [ek, ev] : *e) {
        auto v = ev.value<std::string>();
        if (!ev.is_string() || !v) return Bad(file, ev, prefix + key, "expected strings");
        c.env[std::string(ek.str())] = *v;
      }
    } else if (key == "headers" || key == "headers_from_file") {
      const toml::table* h = n.as_table();
      if (h == nullptr) return Bad(file, n, prefix + key, "expected a table of strings");
      for (const auto& [hk, hv] : *h) {
        const std::string name(hk.str());
        auto v = hv.value<std::string>();
        if (!hv.is_string() || !v) return Bad(file, hv, prefix + key + "." + name, "expected a string");
        tools::mcp::HttpHeader header{name, *v, key == "headers_from_file"};
        if (header.secret) {
          StatusOr<std::string> secret = tools::mcp::ReadHeaderSecret(*v);
          if (!secret.ok()) {
            return Bad(file, hv, prefix + key + "." + name, std::string(secret.status().message()));
          }
          header.value = std::move(*secret);
        }
        c.headers.push_back(std::move(header));
      }
    } else if (key == "sandbox") {
      s = str(n, key, c.sandbox);
    } else if (key == "read_paths") {
      s = strings(n, key, c.read_paths);
    } else if (key == "write_paths") {
      s = strings(n, key, c.write_paths);
    } else if (key == "uid") {
      s = integer(n, key, c.uid, 1, 4294967294ll);
    } else if (key == "gid") {
      s = integer(n, key, c.gid, 1, 4294967294ll);
    } else if (key == "workdir") {
      s = str(n, key, c.workdir);
    } else if (key == "call_timeout_ms") {
      s = integer(n, key, c.call_timeout_ms, 1, 86400000);
    } else if (key == "start_timeout_ms") {
      s = integer(n, key, c.start_timeout_ms, 1, 86400000);
    } else if (key == "max_message_bytes") {
      s = integer(n, key, c.max_message_bytes, 4096, 1 << 30);
    } else if (key == "restart_initial_ms") {
      s = integer(n, key, c.restart_initial_ms, 1, 86400000);
    } else if (key == "restart_max_ms") {
      s = integer(n, key, c.restart_max_ms, 1, 86400000);
    } else {
      return Bad(file, n, prefix + key,
                 "unknown key (known in [[mcp]]: name, command, url, headers, headers_from_file, "
                 "args, env, sandbox, "
                 "read_paths, write_paths, uid, gid, workdir, call_timeout_ms, "
                 "start_timeout_ms, max_message_bytes, restart_initial_ms, restart_max_ms)");
    }
    AIK_RETURN_IF_ERROR(s);
  }
  if (Status v = tools::mcp::ValidateServerConfig(c); !v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(file, t.source()), ": ", prefix, " ", v.message()));
  }
  return absl::OkStatus();
}

Status ParseMcp(const toml::node& node, const std::string& file, Config& config) {
  const toml::array* a = node.as_array();
  if (a == nullptr || !a->is_array_of_tables()) {
    return Bad(file, node, "mcp", "expected [[mcp]] tables (one per server)");
  }
  for (const toml::node& e : *a) {
    tools::mcp::ServerConfig c;
    AIK_RETURN_IF_ERROR(ParseMcpEntry(*e.as_table(), file, config.mcp.size(), c));
    // The profile is checked once [profiles.*] are all read (below).
    if (const toml::node* sb = e.as_table()->get("sandbox")) {
      config.positions[absl::StrCat("mcp[", config.mcp.size(), "].sandbox")] =
          Where(file, sb->source());
    }
    for (const auto& other : config.mcp) {
      if (other.name == c.name) {
        return Bad(file, e, absl::StrCat("mcp[", config.mcp.size(), "].name"),
                   absl::StrCat("'", c.name, "' is used by another [[mcp]] entry"));
      }
    }
    config.mcp.push_back(std::move(c));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<Config> ParseConfig(const std::string& text, const std::string& file) {
  toml::parse_result parsed = toml::parse(text, file);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return absl::InvalidArgumentError(absl::StrCat(
        Where(file, e.source()), ": syntax error: ", std::string(e.description())));
  }
  const toml::table& root = parsed.table();
  Config config;
  config.source = file;
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    if (section == "mcp") {
      AIK_RETURN_IF_ERROR(ParseMcp(section_node, file, config));
      continue;
    }
    if (section == "profiles") {
      AIK_RETURN_IF_ERROR(ParseProfiles(section_node, file, &config.profiles));
      continue;
    }
    auto known = Schema().find(section);
    if (known == Schema().end()) {
      return Bad(file, section_node, section,
                 "unknown section (known: [node], [daemon], [audit], [agents], [policy], "
                 "[memory], [msg], [identity], [tools], [peer], [[mcp]], [profiles.<name>])");
    }
    const toml::table* table = section_node.as_table();
    if (table == nullptr) return Bad(file, section_node, section, "expected a table");
    for (const auto& [key, value] : *table) {
      const std::string dotted = section + "." + std::string(key.str());
      auto setter = known->second.find(std::string(key.str()));
      if (setter == known->second.end()) {
        std::string names;
        for (const auto& [k, _] : known->second) {
          absl::StrAppend(&names, names.empty() ? "" : ", ", k);
        }
        return Bad(file, value, dotted,
                   absl::StrCat("unknown key (known in [", section, "]: ", names, ")"));
      }
      AIK_RETURN_IF_ERROR(setter->second(value, dotted, file, config));
      config.positions[dotted] = Where(file, value.source());
    }
  }
  // Checks across keys, naming the key that has to change.
  auto bad = [&](const std::string& key, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(config.Where(key), ": ", key, ": ", why));
  };
  if (config.x509_svid_ttl_s > config.max_svid_ttl_s) {
    return bad("identity.x509_svid_ttl",
               absl::StrCat("must not exceed identity.max_svid_ttl (", config.max_svid_ttl_s,
                            "s), got ", config.x509_svid_ttl_s, "s"));
  }
  if (config.jwt_svid_ttl_s > config.max_svid_ttl_s) {
    return bad("identity.jwt_svid_ttl",
               absl::StrCat("must not exceed identity.max_svid_ttl (", config.max_svid_ttl_s,
                            "s), got ", config.jwt_svid_ttl_s, "s"));
  }
  // Sandbox profiles named elsewhere must be [profiles.<name>] (or builtin).
  auto unknown_profile = [&](const std::string& key, const std::string& name) {
    return bad(key, absl::StrCat("unknown profile '", name, "' (known: ",
                                 agents::ProfileNames(config.profiles),
                                 "; [profiles.<name>] adds one)"));
  };
  for (size_t i = 0; i < config.mcp.size(); ++i) {
    const tools::mcp::ServerConfig& m = config.mcp[i];
    if (m.url.empty() && config.profiles.find(m.sandbox) == config.profiles.end()) {
      return unknown_profile(absl::StrCat("mcp[", i, "].sandbox"), m.sandbox);
    }
  }
  for (const std::string& name : config.tools_exec_profiles) {
    if (config.profiles.find(name) == config.profiles.end()) {
      return unknown_profile("tools.exec.profiles", name);
    }
  }
  if (config.ca_ttl_s < 2 * config.max_svid_ttl_s) {
    return bad("identity.ca_ttl",
               absl::StrCat("must be at least twice identity.max_svid_ttl (",
                            2 * config.max_svid_ttl_s, "s), got ", config.ca_ttl_s, "s"));
  }
  return config;
}

std::string DefaultTrustDomain(const std::string& node_name) {
  std::string out;
  for (char ch : node_name) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_';
    out.push_back(ok ? c : '-');
    if (out.size() == 255) break;
  }
  return out.empty() ? "localhost" : out;
}

std::string TrustDomainOf(const Config& c, const std::string& node_name) {
  return c.trust_domain.empty() ? DefaultTrustDomain(node_name) : c.trust_domain;
}

bool ParseDurationSeconds(const std::string& text, int64_t* seconds) {
  constexpr int64_t kMax = 100LL * 366 * 86400;
  int64_t total = 0;
  size_t i = 0;
  if (text.empty()) return false;
  while (i < text.size()) {
    size_t start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMax) return false;
      ++i;
    }
    if (i == start || i == text.size()) return false;
    int64_t unit = 0;
    switch (text[i]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return false;
    }
    ++i;
    total += n * unit;
    if (total > kMax) return false;
  }
  *seconds = total;
  return true;
}

StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read configuration file"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path);
}

std::vector<std::string> ChangedKeys(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto cmp = [&](const char* key, const auto& x, const auto& y) {
    if (!(x == y)) out.emplace_back(key);
  };
  cmp("node.name", a.node_name, b.node_name);
  cmp("daemon.socket", a.socket, b.socket);
  cmp("daemon.socket_mode", a.socket_mode, b.socket_mode);
  cmp("daemon.socket_group", a.socket_group, b.socket_group);
  cmp("daemon.admin_group", a.admin_group, b.admin_group);
  cmp("daemon.state_dir", a.state_dir, b.state_dir);
  cmp("daemon.log_level", a.log_level, b.log_level);
  cmp("daemon.max_message_bytes", a.max_message_bytes, b.max_message_bytes);
  cmp("daemon.drain_timeout_ms", a.drain_timeout_ms, b.drain_timeout_ms);
  cmp("audit.synchronous", a.audit_synchronous, b.audit_synchronous);
  cmp("audit.checkpoint_every_records", a.checkpoint_every_records,
      b.checkpoint_every_records);
  cmp("audit.checkpoint_every_ms", a.checkpoint_every_ms, b.checkpoint_every_ms);
  cmp("audit.max_batch", a.max_batch, b.max_batch);
  cmp("audit.redact_fields", a.redact_fields, b.redact_fields);
  cmp("daemon.logs_dir", a.logs_dir, b.logs_dir);
  cmp("agents.enabled", a.agents_enabled, b.agents_enabled);
  cmp("agents.max_running", a.agents_max_running, b.agents_max_running);
  cmp("agents.memory_budget_bytes", a.agents_memory_budget_bytes, b.agents_memory_budget_bytes);
  cmp("agents.aging_interval_ms", a.agents_aging_interval_ms, b.agents_aging_interval_ms);
  cmp("agents.default_uid", a.agents_default_uid, b.agents_default_uid);
  cmp("agents.default_gid", a.agents_default_gid, b.agents_default_gid);
  cmp("agents.log_max_bytes", a.agents_log_max_bytes, b.agents_log_max_bytes);
  cmp("agents.log_keep", a.agents_log_keep, b.agents_log_keep);
  cmp("agents.specs_dir", a.agents_specs_dir, b.agents_specs_dir);
  cmp("policy.dir", a.policy_dir, b.policy_dir);
  cmp("policy.approval_timeout_ms", a.approval_timeout_ms, b.approval_timeout_ms);
  cmp("memory.synchronous", a.memory_synchronous, b.memory_synchronous);
  cmp("memory.default_max_bytes", a.memory_default_max_bytes, b.memory_default_max_bytes);
  cmp("memory.default_max_records", a.memory_default_max_records,
      b.memory_default_max_records);
  cmp("tools.max_args_bytes", a.tools_max_args_bytes, b.tools_max_args_bytes);
  cmp("tools.max_result_bytes", a.tools_max_result_bytes, b.tools_max_result_bytes);
  cmp("tools.call_timeout_ms", a.tools_call_timeout_ms, b.tools_call_timeout_ms);
  cmp("tools.fs.roots", a.tools_fs_roots, b.tools_fs_roots);
  cmp("tools.fs.max_read_bytes", a.tools_fs_max_read_bytes, b.tools_fs_max_read_bytes);
  cmp("tools.fs.max_write_bytes", a.tools_fs_max_write_bytes, b.tools_fs_max_write_bytes);
  cmp("tools.http.max_response_bytes", a.tools_http_max_response_bytes,
      b.tools_http_max_response_bytes);
  cmp("tools.http.timeout_ms", a.tools_http_timeout_ms, b.tools_http_timeout_ms);
  cmp("tools.http.max_redirects", a.tools_http_max_redirects, b.tools_http_max_redirects);
  cmp("tools.exec.profiles", a.tools_exec_profiles, b.tools_exec_profiles);
  cmp("tools.exec.max_output_bytes", a.tools_exec_max_output_bytes,
      b.tools_exec_max_output_bytes);
  cmp("tools.exec.timeout_ms", a.tools_exec_timeout_ms, b.tools_exec_timeout_ms);
  cmp("tools.exec.uid", a.tools_exec_uid, b.tools_exec_uid);
  cmp("tools.exec.gid", a.tools_exec_gid, b.tools_exec_gid);
  cmp("msg.synchronous", a.msg_synchronous, b.msg_synchronous);
  cmp("msg.max_payload_bytes", a.msg_max_payload_bytes, b.msg_max_payload_bytes);
  cmp("msg.default_ttl_ms", a.msg_default_ttl_ms, b.msg_default_ttl_ms);
  // [[mcp]] headers (headers_from_file re-read) apply live; any other
  // change of the entries needs a restart.
  auto without_headers = [](std::vector<tools::mcp::ServerConfig> v) {
    for (auto& c : v) c.headers.clear();
    return v;
  };
  cmp("mcp", without_headers(a.mcp), without_headers(b.mcp));
  bool headers = false;
  for (const auto& x : a.mcp) {
    for (const auto& y : b.mcp) headers |= x.name == y.name && x.headers != y.headers;
  }
  if (headers) out.push_back("mcp.headers");
  cmp("profiles", a.profiles, b.profiles);
  cmp("identity.trust_domain", a.trust_domain, b.trust_domain);
  cmp("identity.x509_svid_ttl", a.x509_svid_ttl_s, b.x509_svid_ttl_s);
  cmp("identity.jwt_svid_ttl", a.jwt_svid_ttl_s, b.jwt_svid_ttl_s);
  cmp("identity.max_svid_ttl", a.max_svid_ttl_s, b.max_svid_ttl_s);
  cmp("identity.ca_ttl", a.ca_ttl_s, b.ca_ttl_s);
  cmp("identity.clock_skew", a.clock_skew_s, b.clock_skew_s);
  cmp("peer.listen", a.peer_listen, b.peer_listen);
  if (a.peers.size() != b.peers.size()) {
    out.push_back("peer.peers");
  } else {
    for (size_t i = 0; i < a.peers.size(); ++i) {
      const auto& x = a.peers[i];
      const auto& y = b.peers[i];
      if (x.name != y.name || x.trust_domain != y.trust_domain || x.address != y.address ||
          x.bundle_file != y.bundle_file) {
        out.push_back("peer.peers");
        break;
      }
    }
  }
  return out;
}

bool IsReloadable(const std::string& key) {
  return key == "daemon.log_level" || key == "daemon.admin_group" ||
         key == "audit.redact_fields" || key == "daemon.drain_timeout_ms" ||
         key == "policy.dir" || key == "policy.approval_timeout_ms" || key == "mcp.headers";
}

}  // namespace aikernel::daemon
