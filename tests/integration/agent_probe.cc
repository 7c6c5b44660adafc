// aik_test_agent: an agent program for tests/integration/agents_test.cc.
// Each mode prints what it found, one line per fact, flushed, so the test
// reads it from the agent's log. Modes:
//   whoami            Kernel.Whoami over AIKERNEL_FD; then wait for SIGTERM
//   exit N            print "exiting N" and exit N
//   sleep             print "ready"; wait for SIGTERM, then exit 0
//   ignore-term       ignore SIGTERM; wait forever
//   grandchild        start a grandchild that sleeps; print its pid; wait
//   shadow            try to read /etc/shadow
//   connect PORT      try to connect to 127.0.0.1:PORT
//   memory OTHER      use its own memory namespace agent/<own name>, then try
//                     agent/OTHER, shared/team, namespace admin and spans;
//                     prints "<what>=<code>" per call, then "memory-done"
//   whoami-n N        N Whoami calls, "call<i>=<code>" each, then "calls-done";
//                     then wait for SIGTERM
//   svid              FetchX509SVID (prints the certificate between
//                     "cert-begin"/"cert-end") and FetchJWTSVID for "svc"
//                     (prints "jwt <token>"); then wait for SIGTERM
//   jwt AUD           FetchJWTSVID for AUD: "jwt <token>", "jwt-done"; wait
//   jwt-to AUD TO     the same, and sends the token to TO (a SPIFFE ID; MsgSend,
//                     topic "token"): "sent=<code>" before "jwt-done"
//   present AUD [TOKEN]
//                     takes TOKEN (another's) from argv, or else from the
//                     first "token" message in its inbox ("received from
//                     <sender>"), and presents it as its own on Whoami:
//                     "foreign=<code> <message>"; then its own JWT-SVID for
//                     AUD: "own=<code> <id>"; then none: "plain=<code> <id>";
//                     ValidateJWTSVID of TOKEN and of its own:
//                     "validate-foreign valid=<0|1> sub=<id> is_caller=<0|1>",
//                     "validate-own ..."; "present-done"; wait for SIGTERM
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "aikernel/client.h"
#include "common/agent_program.h"

namespace {

using aikernel::testing::StartAgentProgram;
using aikernel::testing::TermSet;
using aikernel::testing::WaitForTerm;

}  // namespace

int main(int argc, char** argv) {
  StartAgentProgram();
  std::string mode = argc > 1 ? argv[1] : "sleep";
  if (mode == "whoami") {
    auto c = aikernel::Client::Connect({});
    if (!c.ok()) {
      std::printf("connect-error %s\n", c.status().ToString().c_str());
      return 2;
    }
    auto me = (*c)->Whoami();
    if (!me.ok()) {
      std::printf("whoami-error %s\n", me.status().ToString().c_str());
      return 2;
    }
    std::printf("kind=%s spiffe=%s instance=%s id=%s\n",
                aikernel::PrincipalKindName(me->principal.kind), me->principal.spiffe_id.c_str(),
                me->principal.instance_id.c_str(), me->principal.id.c_str());
    // Agents may call only Whoami under the built-in authorizer.
    auto st = (*c)->Status();
    std::printf("status=%s\n", st.ok() ? "OK" : aikernel::StatusCodeName(st.status().code()));
    WaitForTerm();
    return 0;
  }
  if (mode == "whoami-n") {
    auto c = aikernel::Client::Connect({});
    if (!c.ok()) {
      std::printf("connect-error %s\n", c.status().ToString().c_str());
      return 2;
    }
    const int n = argc > 2 ? std::atoi(argv[2]) : 1;
    for (int i = 1; i <= n; ++i) {
      auto me = (*c)->Whoami();
      std::printf("call%d=%s\n", i,
                  me.ok() ? "OK" : aikernel::StatusCodeName(me.status().code()));
    }
    std::printf("calls-done\n");
    WaitForTerm();
    return 0;
  }
  if (mode == "svid") {
    auto c = aikernel::Client::Connect({});
    if (!c.ok()) {
      std::printf("connect-error %s\n", c.status().ToString().c_str());
      return 2;
    }
    aikernel::X509SvidSource source(c->get());
    auto x = source.Get();
    if (!x.ok()) {
      std::printf("x509-error %s\n", x.status().ToString().c_str());
    } else {
      std::printf("x509 %s %s\ncert-begin\n%scert-end\n", x->spiffe_id.c_str(),
                  x->instance_id.c_str(), x->cert_pem.c_str());
    }
    auto j = (*c)->FetchJWTSVID({"svc"});
    if (!j.ok()) {
      std::printf("jwt-error %s\n", j.status().ToString().c_str());
    } else {
      std::printf("jwt %s\n", j->token.c_str());
    }
    std::printf("svid-done\n");
    WaitForTerm();
    return 0;
  }
  if (mode == "jwt" || mode == "jwt-to" || mode == "present") {
    auto c = aikernel::Client::Connect({});
    if (!c.ok()) {
      std::printf("connect-error %s\n", c.status().ToString().c_str());
      return 2;
    }
    const std::string aud = argc > 2 ? argv[2] : "svc";
    auto own = (*c)->FetchJWTSVID({aud});
    if (!own.ok()) {
      std::printf("jwt-error %s\n", own.status().ToString().c_str());
      return 2;
    }
    if (mode != "present") {
      if (mode == "jwt-to") {
        auto sent = (*c)->MsgSend(argc > 3 ? argv[3] : "", "token", own->token);
        std::printf("sent=%s\n",
                    sent.ok() ? "OK" : sent.status().ToString().c_str());
      }
      std::printf("jwt %s\njwt-done\n", own->token.c_str());
      WaitForTerm();
      return 0;
    }
    std::string foreign = argc > 3 ? argv[3] : "";
    for (int polls = 0; foreign.empty() && polls < 12; ++polls) {
      aikernel::MsgReceiveOptions ro;
      ro.wait = std::chrono::seconds(10);
      auto batch = (*c)->MsgReceive(ro);
      if (!batch.ok()) {
        std::printf("receive-error %s\n", batch.status().ToString().c_str());
        return 2;
      }
      for (const aikernel::Message& m : batch->messages) {
        if (m.topic != "token") continue;
        foreign = m.payload;
        std::printf("received from %s\n", m.sender.c_str());
        (void)(*c)->MsgAck({m.seq});
        break;
      }
    }
    auto whoami_with = [&](const char* label, const std::string& token) {
      aikernel::CallOptions o;
      o.bearer_token = token;
      auto me = (*c)->Whoami(o);
      std::printf("%s=%s %s\n", label,
                  me.ok() ? "OK" : aikernel::StatusCodeName(me.status().code()),
                  me.ok() ? me->principal.id.c_str() : me.status().message().c_str());
    };
    whoami_with("foreign", foreign);
    whoami_with("own", own->token);
    whoami_with("plain", "");
    auto validate = [&](const char* label, const std::string& token) {
      auto v = (*c)->ValidateJWTSVID(token, aud);
      if (!v.ok()) {
        std::printf("%s-error %s\n", label, v.status().ToString().c_str());
        return;
      }
      std::printf("%s valid=%d sub=%s is_caller=%d\n", label, v->valid ? 1 : 0,
                  v->spiffe_id.c_str(), v->subject_is_caller ? 1 : 0);
    };
    validate("validate-foreign", foreign);
    validate("validate-own", own->token);
    std::printf("present-done\n");
    WaitForTerm();
    return 0;
  }
  if (mode == "exit") {
    int code = argc > 2 ? std::atoi(argv[2]) : 0;
    std::printf("exiting %d\n", code);
    return code;
  }
  if (mode == "sleep") {
    std::printf("ready\n");
    WaitForTerm();
    std::printf("terminated\n");
    return 0;
  }
  if (mode == "ignore-term") {
    signal(SIGTERM, SIG_IGN);
    sigset_t term = TermSet();
    pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
    std::printf("ready\n");
    for (;;) pause();
  }
  if (mode == "grandchild") {
    pid_t child = fork();
    if (child == 0) {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        setsid();
        for (;;) pause();
      }
      std::printf("grandchild %d\n", grandchild);
      _exit(0);
    }
    waitpid(child, nullptr, 0);
    std::printf("ready\n");
    WaitForTerm();
    return 0;
  }
  if (mode == "shadow") {
    int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[16];
      ssize_t n = read(fd, buf, sizeof(buf));
      std::printf("shadow: READ %zd bytes\n", n);
    } else {
      std::printf("shadow: %s\n", strerrorname_np(errno));
    }
    WaitForTerm();
    return 0;
  }
  if (mode == "connect") {
    int port = argc > 2 ? std::atoi(argv[2]) : 1;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      std::printf("connect: socket %s\n", strerrorname_np(errno));
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
        std::printf("connect: CONNECTED\n");
      } else {
        std::printf("connect: %s\n", strerrorname_np(errno));
      }
    }
    WaitForTerm();
    return 0;
  }
  if (mode == "memory") {
    const std::string other = "agent/" + std::string(argc > 2 ? argv[2] : "other");
    auto c = aikernel::Client::Connect({});
    if (!c.ok()) {
      std::printf("connect-error %s\n", c.status().ToString().c_str());
      return 2;
    }
    auto me = (*c)->Whoami();
    if (!me.ok()) return 2;
    const std::string& id = me->principal.spiffe_id;  // spiffe://<node>/agent/<name>
    const std::string own = "agent/" + id.substr(id.rfind('/') + 1);
    auto code = [](const aikernel::Status& s) { return aikernel::StatusCodeName(s.code()); };
    auto put = (*c)->MemoryPut(own, "k", "mine");
    std::printf("own-put=%s version=%lld\n", code(put.status()),
                put.ok() ? static_cast<long long>(put->entry.version) : 0LL);
    auto get = (*c)->MemoryGet(own, "k");
    std::printf("own-get=%s value=%s\n", code(get.status()),
                get.ok() ? get->entry.value.c_str() : "");
    std::printf("own-put2=%s\n", code((*c)->MemoryPut(own, "k2", "mine2").status()));
    std::printf("own-delete=%s\n", code((*c)->MemoryDelete(own, "k").status()));
    std::printf("own-doc=%s\n",
                code((*c)->MemoryPutDocument(own, {"d", "agents remember", "", {}, {}, {}})
                         .status()));
    aikernel::MemorySearchQuery q;
    q.text = "remember";
    auto hits = (*c)->MemorySearch(own, q);
    std::printf("own-search=%s hits=%zu\n", code(hits.status()), hits.ok() ? hits->hits.size() : 0);
    std::printf("own-ns=%s\n", code((*c)->MemoryGetNamespace(own).status()));
    auto theirs = (*c)->MemoryGet(other, "secret");
    std::printf("other-get=%s value=%s\n", code(theirs.status()),
                theirs.ok() ? theirs->entry.value.c_str() : "");
    std::printf("other-put=%s\n", code((*c)->MemoryPut(other, "secret", "overwritten").status()));
    std::printf("other-delete=%s\n", code((*c)->MemoryDelete(other, "secret").status()));
    std::printf("other-list=%s\n", code((*c)->MemoryList(other).status()));
    std::printf("shared-get=%s\n", code((*c)->MemoryGet("shared/team", "plan").status()));
    aikernel::MemoryNamespaceConfig mine;
    mine.name = "shared/mine";
    std::printf("create=%s\n", code((*c)->MemoryCreateNamespace(mine).status()));
    std::printf("quota=%s\n", code((*c)->MemorySetQuota(own, 0, 0).status()));
    std::printf("list-namespaces=%s\n", code((*c)->MemoryListNamespaces("agent/").status()));
    std::printf("export-all=%s\n",
                code((*c)->MemoryExport({}, [](std::string_view) { return true; }).status()));
    std::printf("memory-done\n");
    WaitForTerm();
    return 0;
  }
  std::printf("unknown mode %s\n", mode.c_str());
  return 64;
}
