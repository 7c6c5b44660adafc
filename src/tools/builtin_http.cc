// http.fetch: one HTTP(S) request through libcurl, decided by policy on what
// the kernel parsed from the URL.
//
// The URL is parsed with libcurl's own parser (CURLU), the same one the
// transfer uses, so policy (context.http {scheme, host, port, method}) sees
// exactly what will be contacted. Only http and https; libcurl is told so
// too (CURLOPT_PROTOCOLS_STR), so no other protocol is reachable. Redirects
// are never followed by libcurl: each Location is resolved against the
// current URL, parsed again, and decided again by policy
// (CallContext::authorize_step, step "redirect", recorded in the ledger)
// before it is requested; a denied hop ends the call PERMISSION_DENIED.
// Credentials (Authorization, Cookie, Proxy-Authorization headers) are not
// sent on to another host. The body is capped ([tools.http]
// max_response_bytes, or the call's smaller max_bytes): a larger one fails
// the call RESOURCE_EXHAUSTED. The transfer honours the call's deadline and
// cancellation (libcurl's progress callback aborts it).
//
// Addresses: the kernel resolves the host itself (getaddrinfo: every
// answer, deduplicated, in the resolver's order, at most kMaxAddresses)
// before policy. The call is decided on the first one: it is in
// context.http.address and context.http.ip (a Cedar ipaddr, so policy can
// say context.http.ip.isLoopback() or .isInRange(ip("10.0.0.0/8"))), all of
// them in context.http.addresses. The transfer is pinned to the address
// decided on (CURLOPT_RESOLVE), so a DNS answer that changes between the
// decision and the connection (rebinding) cannot send the request
// elsewhere. When the connection to it fails (refused, unreachable, connect
// timeout; not an HTTP or TLS error, nor a timeout once connected, since the
// server may have acted on the request), the next address is decided on
// its own (CallContext::authorize_step, step "address", recorded in the
// ledger) and, if allowed, tried pinned to exactly it; a refused one is
// skipped. After the last, the call fails naming every address and why.
// Each try gets an equal share of the time left for it and the addresses
// after it as its connect timeout; the call's timeout bounds all tries.
// Each redirect hop is resolved, decided (step "redirect", its first
// address) and tried the same way. No proxy from the environment is used
// (it would connect elsewhere than decided).
#include <curl/curl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/str_join.h"

#include "common/text.h"
#include "tools/builtin.h"

namespace aikernel::tools {
namespace {

using nlohmann::json;

struct CurlUrl {
  CURLU* h = curl_url();
  ~CurlUrl() { curl_url_cleanup(h); }
};

std::string Part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* s = nullptr;
  if (curl_url_get(u, part, &s, flags) != CURLUE_OK || s == nullptr) return "";
  std::string out = s;
  curl_free(s);
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Target {
  std::string url;  // normalized by libcurl
  std::string scheme, host;
  int64_t port = 0;
};

// `url` parsed (and, with `base`, resolved against it, for a Location).
StatusOr<Target> ParseUrl(const std::string& url, const std::string& base = "",
                          const char* field = "args.url") {
  CurlUrl u;
  if (!base.empty()) curl_url_set(u.h, CURLUPART_URL, base.c_str(), 0);
  CURLUcode rc = curl_url_set(u.h, CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", url, "' is not a URL (", curl_url_strerror(rc), ")"));
  }
  Target t;
  t.scheme = Lower(Part(u.h, CURLUPART_SCHEME));
  if (t.scheme != "http" && t.scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": scheme '", t.scheme, "' (only http and https)"));
  }
  t.host = Lower(Part(u.h, CURLUPART_HOST));
  if (t.host.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": no host"));
  std::string port = Part(u.h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  t.port = port.empty() ? 0 : std::stoll(port);  // libcurl returns digits only
  t.url = Part(u.h, CURLUPART_URL);
  return t;
}

// The host as an address literal (without IPv6 brackets), or "".
std::string AddressLiteral(const std::string& host) {
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1) {
    return h;
  }
  return "";
}

// At most this many answers of a host are kept (and possibly tried).
constexpr size_t kMaxAddresses = 8;

using Addresses = std::vector<std::string>;

// Where the request may go: the host itself when it is an address, else
// the resolver's answers in its order (RFC 6724 sorted by glibc), each once.
StatusOr<Addresses> Resolve(const Target& t) {
  if (std::string lit = AddressLiteral(t.host); !lit.empty()) return Addresses{lit};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;  // only families this host can reach
  addrinfo* res = nullptr;
  int rc = getaddrinfo(t.host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return absl::UnavailableError(absl::StrCat("http.fetch: cannot resolve host '", t.host,
                                               "': ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, freeaddrinfo);
  Addresses out;
  for (const addrinfo* a = res; a != nullptr && out.size() < kMaxAddresses; a = a->ai_next) {
    const void* addr = nullptr;
    if (a->ai_family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
    } else if (a->ai_family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(a->ai_family, addr, text, sizeof(text)) == nullptr) {
      return absl::InternalError(absl::StrCat("http.fetch: inet_ntop for '", t.host, "'"));
    }
    if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  if (out.empty()) {
    return absl::UnavailableError(
        absl::StrCat("http.fetch: host '", t.host, "' has no IPv4 or IPv6 address"));
  }
  return out;
}

// context.http: what policy decides on, for the address `addrs[i]`. `ip`
// is a Cedar ipaddr (the extension escape of the policy engine's JSON form).
json HttpContext(const Target& t, const std::string& method, const Addresses& addrs, size_t i) {
  return {{"http",
           {{"scheme", t.scheme},
            {"host", t.host},
            {"port", t.port},
            {"method", method},
            {"address", addrs[i]},
            {"ip", {{"__extn", {{"fn", "ip"}, {"arg", addrs[i]}}}}},
            {"addresses", addrs}}}};
}

// The addresses policy decided the first request on (the first of them),
// from the call's policy context; resolved again only when the call came
// without one.
StatusOr<Addresses> DecidedAddresses(const Target& t, const CallContext& ctx) {
  if (ctx.policy_context != nullptr && ctx.policy_context->contains("http")) {
    const json& h = (*ctx.policy_context)["http"];
    if (h.contains("address") && h["address"].is_string()) {
      Addresses out{h["address"].get<std::string>()};
      if (h.contains("addresses") && h["addresses"].is_array()) {
        for (const json& a : h["addresses"]) {
          if (a.is_string() && a.get<std::string>() != out.front()) out.push_back(a.get<std::string>());
        }
      }
      return out;
    }
  }
  return Resolve(t);
}

struct Transfer {
  std::string body;
  size_t cap = 0;
  bool over = false;
  std::vector<std::pair<std::string, std::string>> headers;
  const CallContext* ctx = nullptr;
};

size_t OnBody(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->body.size() + len > t->cap) {
    t->over = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->body.append(p, len);
  return len;
}

size_t OnHeader(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(p, size * n);
  // A new response (after a 100 Continue) starts with its status line.
  if (line.rfind("HTTP/", 0) == 0) t->headers.clear();
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.pop_back();
    }
    t->headers.emplace_back(Lower(line.substr(0, colon)), value);
  }
  return size * n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->ctx->Cancelled() ? 1 : 0;  // non-zero aborts (CURLE_ABORTED_BY_CALLBACK)
}

bool IsCredential(const std::string& header_name) {
  std::string n = Lower(header_name);
  return n == "authorization" || n == "cookie" || n == "proxy-authorization";
}

struct Response {
  long status = 0;
  std::string location;  // resolved by libcurl (CURLINFO_REDIRECT_URL) for 3xx
  Transfer xfer;
  std::string address;  // the one it went to
};

// What is sent: the same to every address of a hop.
struct Request {
  std::string method;
  std::string body;
  json headers;
  bool send_credentials = true;
  size_t cap = 0;
};

// How one try ended when it did not give a response.
struct TryError {
  Status status;
  bool not_connected = false;  // no connection was made: another address may work
  bool timed_out = false;      // ... because the connect timeout passed
};

// One request to `t` pinned to `ip`. `connect_timeout` bounds the TCP
// connect, `timeout` the whole transfer.
StatusOr<Response> Perform(const Target& t, const std::string& ip, const Request& req,
                           std::chrono::milliseconds timeout,
                           std::chrono::milliseconds connect_timeout, const CallContext& ctx,
                           TryError* failed) {
  std::unique_ptr<CURL, void (*)(CURL*)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return absl::InternalError("http.fetch: curl_easy_init failed");
  Response r;
  r.xfer.cap = req.cap;
  r.xfer.ctx = &ctx;
  r.address = ip;
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  // Connect to the address policy decided on, not to a fresh DNS answer.
  curl_slist* pin = nullptr;
  if (AddressLiteral(t.host).empty()) {
    std::string host = t.host;
    std::string entry = absl::StrCat(host, ":", t.port, ":",
                                     ip.find(':') != std::string::npos ? "[" + ip + "]" : ip);
    pin = curl_slist_append(pin, entry.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> owned_pin(pin, curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout.count(), 1)));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(connect_timeout.count(), 1)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.xfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.xfer);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &r.xfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "aikernel-http.fetch");
  if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method != "DELETE" || !req.body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
  }
  curl_slist* list = nullptr;
  if (req.headers.is_object()) {
    for (auto it = req.headers.begin(); it != req.headers.end(); ++it) {
      if (!req.send_credentials && IsCredential(it.key())) continue;
      std::string line = it.key() + ": " + it.value().get<std::string>();
      list = curl_slist_append(list, line.c_str());
    }
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> owned(list, curl_slist_free_all);
  if (list != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

  CURLcode rc = curl_easy_perform(c);
  auto fail = [failed](Status s, bool not_connected = false, bool timed_out = false) {
    failed->status = s;
    failed->not_connected = not_connected;
    failed->timed_out = timed_out;
    return s;
  };
  if (r.xfer.over) {
    return fail(absl::ResourceExhaustedError(absl::StrCat(
        "http.fetch: ", t.url, ": response body over ", req.cap,
        " bytes ([tools.http] max_response_bytes or args.max_bytes)")));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) return fail(absl::CancelledError("http.fetch: cancelled"));
  curl_off_t connected_us = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected_us);
  if (rc == CURLE_COULDNT_CONNECT || (rc == CURLE_OPERATION_TIMEDOUT && connected_us == 0)) {
    std::string why = rc == CURLE_COULDNT_CONNECT
                          ? curl_easy_strerror(rc)
                          : absl::StrCat("no connection within ", connect_timeout.count(), " ms");
    return fail(absl::UnavailableError(why), true, rc == CURLE_OPERATION_TIMEDOUT);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return fail(absl::DeadlineExceededError(absl::StrCat(
        "http.fetch: ", t.url, ": no complete answer within ", timeout.count(), " ms")));
  }
  if (rc != CURLE_OK) {
    return fail(absl::UnavailableError(
        absl::StrCat("http.fetch: ", t.url, ": ", curl_easy_strerror(rc))));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  char* loc = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != nullptr) {
    r.location = loc;
  }
  return r;
}

using Clock = std::chrono::steady_clock;

// One request to `t`: to `addrs[0]` (already decided: by Dispatch, or as
// the redirect step), then, while no connection could be made, to each
// further address that policy allows (step "address"). Every address
// passed over is appended to `fallbacks` ({url, address, reason
// "connect"|"policy", error}).
StatusOr<Response> PerformOnSomeAddress(const Target& t, const Addresses& addrs,
                                        const Request& req, Clock::time_point end,
                                        const CallContext& ctx, json& fallbacks) {
  std::vector<std::string> tried;  // "address (why)", for the error
  bool refused = false;
  bool ran_out = false;  // the time left was spent (not only now >= end: curl's ms timer)
  for (size_t i = 0; i < addrs.size(); ++i) {
    const std::string& ip = addrs[i];
    if (i > 0) {
      Status allowed = ctx.authorize_step
                           ? ctx.authorize_step(HttpContext(t, req.method, addrs, i), "address")
                           : absl::PermissionDeniedError("steps cannot be authorized here");
      if (!allowed.ok()) {
        if (allowed.code() != absl::StatusCode::kPermissionDenied) return allowed;  // the ledger
        refused = true;
        tried.push_back(absl::StrCat(ip, " (refused: ", allowed.message(), ")"));
        fallbacks.push_back({{"url", t.url}, {"address", ip}, {"reason", "policy"},
                             {"error", std::string(allowed.message())}});
        continue;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) {
      ran_out = true;
      break;
    }
    // An equal share of what is left for this address and those after it.
    auto connect = left / static_cast<int64_t>(addrs.size() - i);
    TryError failed;
    StatusOr<Response> r = Perform(t, ip, req, left, connect, ctx, &failed);
    if (r.ok() || !failed.not_connected) return r;
    ran_out = failed.timed_out && connect >= left;
    tried.push_back(absl::StrCat(ip, " (", failed.status.message(), ")"));
    fallbacks.push_back({{"url", t.url}, {"address", ip}, {"reason", "connect"},
                         {"error", std::string(failed.status.message())}});
  }
  const bool late = ran_out || Clock::now() >= end;
  std::string msg = absl::StrCat("http.fetch: ", t.url, ": ",
                                 late ? "the call's time ran out; " : "",
                                 "no address of '", t.host, "' could be used: ",
                                 tried.empty() ? "none tried" : absl::StrJoin(tried, ", "));
  if (late) return absl::DeadlineExceededError(msg);
  return refused ? absl::PermissionDeniedError(msg) : absl::UnavailableError(msg);
}

StatusOr<ToolResult> Fetch(const BuiltinOptions& o, const json& args, const CallContext& ctx) {
  Request req;
  req.method = args.value("method", "GET");
  req.body = args.value("body", "");
  req.headers = args.value("headers", json::object());
  req.cap = static_cast<size_t>(
      std::min<int64_t>(args.value("max_bytes", o.http_max_response_bytes), o.http_max_response_bytes));
  const auto per_call = std::chrono::milliseconds(args.value("timeout_ms", o.http_timeout_ms));
  const auto end = std::min(ctx.deadline, Clock::now() + per_call);

  AIK_ASSIGN_OR_RETURN(Target t, ParseUrl(args.value("url", "")));
  AIK_ASSIGN_OR_RETURN(Addresses addrs, DecidedAddresses(t, ctx));
  const std::string first_host = t.host;
  std::vector<std::string> hops;
  json fallbacks = json::array();
  for (;;) {
    req.send_credentials = t.host == first_host;
    AIK_ASSIGN_OR_RETURN(Response r, PerformOnSomeAddress(t, addrs, req, end, ctx, fallbacks));
    const bool redirect = r.status >= 300 && r.status < 400 && !r.location.empty();
    if (!redirect || static_cast<int64_t>(hops.size()) >= o.http_max_redirects) {
      ToolResult out;
      json hdrs = json::object();
      for (const auto& [k, v] : r.xfer.headers) hdrs[k] = v;  // the last of a repeated one
      const bool text = ValidUtf8(r.xfer.body);
      out.content = {{"url", t.url},
                     {"address", r.address},
                     {"status", r.status},
                     {"headers", hdrs},
                     {"body_encoding", text ? "utf8" : "base64"},
                     {"body", text ? r.xfer.body : Base64Encode(r.xfer.body)},
                     {"bytes", r.xfer.body.size()},
                     {"redirects", hops},
                     {"fallbacks", fallbacks}};
      return out;
    }
    // 303, and 301/302 after a POST, continue as GET without a body (what
    // browsers and curl do); 307/308 keep the method and body.
    if (r.status == 303 || ((r.status == 301 || r.status == 302) && req.method == "POST")) {
      req.method = "GET";
      req.body.clear();
    }
    AIK_ASSIGN_OR_RETURN(Target next, ParseUrl(r.location, t.url, "redirect Location"));
    if (!ctx.authorize_step) {
      return absl::PermissionDeniedError("http.fetch: redirects cannot be authorized here");
    }
    AIK_ASSIGN_OR_RETURN(Addresses next_addrs, Resolve(next));
    Status allowed = ctx.authorize_step(HttpContext(next, req.method, next_addrs, 0), "redirect");
    if (!allowed.ok()) {
      return Status(allowed.code(), absl::StrCat("http.fetch: redirect ", hops.size() + 1,
                                                 " from ", t.url, " to ", next.url, " refused: ",
                                                 allowed.message()));
    }
    hops.push_back(next.url);
    t = std::move(next);
    addrs = std::move(next_addrs);
  }
}

}  // namespace

std::vector<BuiltinTool> HttpTools(const BuiltinOptions& o) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  BuiltinTool t;
  t.tool = MakeBuiltinTool(
      "http.fetch",
      "One HTTP(S) request: GET, POST, PUT or DELETE with optional headers and body. Policy "
      "decides on context.http {scheme, host, port, method, address, ip, addresses} (address/ip: "
      "the first address the kernel resolved, the one it connects to; addresses: all of them). "
      "When that address cannot be connected to, each next one is decided again and tried; "
      "every redirect is decided again. Result: status, headers, body (UTF-8, or base64 when "
      "it is not), final url, the address used and the fallbacks passed over.",
      R"({"type":"object","properties":{
        "url":{"type":"string","minLength":1},
        "method":{"enum":["GET","POST","PUT","DELETE"]},
        "headers":{"type":"object","additionalProperties":{"type":"string"}},
        "body":{"type":"string"},
        "timeout_ms":{"type":"integer","minimum":1},
        "max_bytes":{"type":"integer","minimum":0}},
        "required":["url"],"additionalProperties":false})");
  t.policy_context = [](const json& args) -> StatusOr<json> {
    AIK_ASSIGN_OR_RETURN(Target target, ParseUrl(args.value("url", "")));
    AIK_ASSIGN_OR_RETURN(Addresses addrs, Resolve(target));
    return HttpContext(target, args.value("method", "GET"), addrs, 0);
  };
  t.call = [o](const json& args, const CallContext& ctx) { return Fetch(o, args, ctx); };
  std::vector<BuiltinTool> out;
  out.push_back(std::move(t));
  return out;
}

}  // namespace aikernel::tools
