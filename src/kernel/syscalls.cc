#include "kernel/syscalls.h"

#include <iterator>

namespace aikernel::kernel {
namespace {

// Order matches enum Syscall.
constexpr SyscallInfo kTable[] = {
    {Syscall::kWhoami, Service::kKernel, "kernel.whoami",
     "/aikernel.v1.Kernel/Whoami", "the caller's principal"},
    {Syscall::kAdminStatus, Service::kAdmin, "admin.status",
     "/aikernel.v1.Admin/Status", "version, uptime, ledger head, counters"},
    {Syscall::kAdminPing, Service::kAdmin, "admin.ping",
     "/aikernel.v1.Admin/Ping", "governed no-op"},
    {Syscall::kAuditQuery, Service::kAdmin, "audit.query",
     "/aikernel.v1.Admin/QueryAudit", "read the audit ledger"},
    {Syscall::kReload, Service::kAdmin, "admin.reload",
     "/aikernel.v1.Admin/Reload", "re-read the configuration"},
    {Syscall::kAgentRun, Service::kAdmin, "agent.run", "/aikernel.v1.Admin/RunAgent",
     "create an agent from a spec and queue it"},
    {Syscall::kAgentList, Service::kAdmin, "agent.list", "/aikernel.v1.Admin/ListAgents",
     "every agent with its state"},
    {Syscall::kAgentInspect, Service::kAdmin, "agent.inspect",
     "/aikernel.v1.Admin/InspectAgent", "one agent in full"},
    {Syscall::kAgentStop, Service::kAdmin, "agent.stop", "/aikernel.v1.Admin/StopAgent",
     "SIGTERM, then SIGKILL after the grace"},
    {Syscall::kAgentKill, Service::kAdmin, "agent.kill", "/aikernel.v1.Admin/KillAgent",
     "send a signal to an agent"},
    {Syscall::kAgentRestart, Service::kAdmin, "agent.restart",
     "/aikernel.v1.Admin/RestartAgent", "stop if running, queue again"},
    {Syscall::kAgentRemove, Service::kAdmin, "agent.remove", "/aikernel.v1.Admin/RemoveAgent",
     "forget an agent (state and logs)"},
    {Syscall::kAgentLogs, Service::kAdmin, "agent.logs", "/aikernel.v1.Admin/AgentLogs",
     "an agent's captured stdout/stderr"},
    {Syscall::kPolicyReload, Service::kPolicy, "policy.reload",
     "/aikernel.v1.Policy/ReloadPolicy", "re-read the policy store"},
    {Syscall::kApprovalList, Service::kPolicy, "approval.list",
     "/aikernel.v1.Policy/ListApprovals", "calls waiting for an operator"},
    {Syscall::kApprovalDecide, Service::kPolicy, "approval.decide",
     "/aikernel.v1.Policy/DecideApproval", "approve or deny a waiting call"},
    {Syscall::kMemPut, Service::kMemory, "memory.write",
     "/aikernel.v1.Memory/Put", "write a key's next version"},
    {Syscall::kMemPutBatch, Service::kMemory, "memory.write",
     "/aikernel.v1.Memory/PutBatch", "write several keys, all or nothing"},
    {Syscall::kMemGet, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/Get", "read a key's newest or a given version"},
    {Syscall::kMemList, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/List", "list keys by prefix, a page at a time"},
    {Syscall::kMemHistory, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/History", "every stored version of a key"},
    {Syscall::kMemDelete, Service::kMemory, "memory.delete",
     "/aikernel.v1.Memory/Delete", "write a key's tombstone"},
    {Syscall::kMemAppendEvent, Service::kMemory, "memory.write",
     "/aikernel.v1.Memory/AppendEvent", "append to the episodic log"},
    {Syscall::kMemReadEvents, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/ReadEvents", "read the episodic log by time and kind"},
    {Syscall::kMemPutDocument, Service::kMemory, "memory.write",
     "/aikernel.v1.Memory/PutDocument", "create or replace a document"},
    {Syscall::kMemGetDocument, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/GetDocument", "read a document"},
    {Syscall::kMemDeleteDocument, Service::kMemory, "memory.delete",
     "/aikernel.v1.Memory/DeleteDocument", "delete a document"},
    {Syscall::kMemSearch, Service::kMemory, "memory.search",
     "/aikernel.v1.Memory/Search", "full-text, vector or hybrid search"},
    {Syscall::kMemGetNamespace, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/GetNamespace", "a namespace's quotas and usage"},
    {Syscall::kMemListNamespaces, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/ListNamespaces", "namespaces by prefix"},
    {Syscall::kMemCreateNamespace, Service::kMemory, "memory.admin",
     "/aikernel.v1.Memory/CreateNamespace", "create a namespace"},
    {Syscall::kMemSetQuota, Service::kMemory, "memory.admin",
     "/aikernel.v1.Memory/SetQuota", "set a namespace's quotas"},
    {Syscall::kMemDropNamespace, Service::kMemory, "memory.admin",
     "/aikernel.v1.Memory/DropNamespace", "remove a namespace and its data"},
    {Syscall::kMemCompact, Service::kMemory, "memory.delete",
     "/aikernel.v1.Memory/Compact", "drop superseded versions"},
    {Syscall::kMemExport, Service::kMemory, "memory.read",
     "/aikernel.v1.Memory/Export", "stream namespaces as JSON lines"},
    {Syscall::kMemImport, Service::kMemory, "memory.write",
     "/aikernel.v1.Memory/Import", "import JSON lines, all or nothing"},
    {Syscall::kMsgSend, Service::kMsg, "msg.send", "/aikernel.v1.Msg/Send",
     "send a message to an agent, here or on a peer node"},
    {Syscall::kMsgReceive, Service::kMsg, "msg.receive", "/aikernel.v1.Msg/Receive",
     "take messages from an inbox (long poll)"},
    {Syscall::kMsgAck, Service::kMsg, "msg.receive", "/aikernel.v1.Msg/Ack",
     "acknowledge received messages"},
    {Syscall::kMsgList, Service::kMsg, "msg.list", "/aikernel.v1.Msg/List",
     "operators' view of inboxes and the outbox"},
    {Syscall::kPolicyExplain, Service::kPolicy, "policy.explain",
     "/aikernel.v1.Policy/ExplainDecision", "why an audited call was decided as it was"},
    {Syscall::kIdentityFetchX509, Service::kIdentity, "identity.fetch_x509",
     "/aikernel.v1.Identity/FetchX509SVID", "an X.509-SVID for the calling agent"},
    {Syscall::kIdentityFetchJwt, Service::kIdentity, "identity.fetch_jwt",
     "/aikernel.v1.Identity/FetchJWTSVID", "a JWT-SVID for the calling agent"},
    {Syscall::kIdentityValidateJwt, Service::kIdentity, "identity.validate_jwt",
     "/aikernel.v1.Identity/ValidateJWTSVID", "check a JWT-SVID of this trust domain"},
    {Syscall::kIdentityBundle, Service::kIdentity, "identity.bundle",
     "/aikernel.v1.Identity/TrustBundle", "the trust bundle (PEM, JWKS; public)"},
    {Syscall::kIdentityRotateCa, Service::kIdentity, "identity.rotate_ca",
     "/aikernel.v1.Identity/RotateCA", "make a new node CA the signer"},
    {Syscall::kToolList, Service::kTools, "tool.list", "/aikernel.v1.Tools/ListTools",
     "every tool with its schema"},
    {Syscall::kToolDescribe, Service::kTools, "tool.list", "/aikernel.v1.Tools/DescribeTool",
     "one tool with its schema"},
    {Syscall::kToolCall, Service::kTools, "tool.call", "/aikernel.v1.Tools/CallTool",
     "run a tool (builtin or MCP) for the caller"},
    {Syscall::kToolAccept, Service::kTools, "tool.accept", "/aikernel.v1.Tools/AcceptTool",
     "re-pin a tool that changed since it was pinned"},
    {Syscall::kMcpList, Service::kMcp, "mcp.list", "/aikernel.v1.Mcp/ListMcpServers",
     "the mounted MCP servers: state, counters, last fault"},
    {Syscall::kNodeBundle, Service::kFederation, "node.bundle",
     "/aikernel.v1.Federation/Bundle", "this node's trust domain and CA bundle"},
    {Syscall::kPeerAdd, Service::kFederation, "node.peer.add",
     "/aikernel.v1.Federation/AddPeer", "federate a peer node (trust domain + bundle)"},
    {Syscall::kPeerList, Service::kFederation, "node.peer.list",
     "/aikernel.v1.Federation/ListPeers", "federated peer nodes"},
    {Syscall::kPeerRemove, Service::kFederation, "node.peer.remove",
     "/aikernel.v1.Federation/RemovePeer", "forget a peer node"},
    {Syscall::kPeerDeliver, Service::kPeer, "msg.receive", "/aikernel.v1.Peer/Deliver",
     "a peer node delivers its agents' messages (mTLS)"},
    {Syscall::kPeerToolCall, Service::kPeer, "tool.call", "/aikernel.v1.Peer/CallTool",
     "a peer node's agent calls a tool of this node (mTLS)"},
};

}  // namespace

// The table is indexed by the enum: every row must sit at its own position.
constexpr bool InEnumOrder() {
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (static_cast<size_t>(kTable[i].id) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kTable rows must follow enum Syscall's order");

const SyscallInfo& Describe(Syscall s) { return kTable[static_cast<int>(s)]; }

const SyscallInfo* AllSyscalls(size_t* count) {
  *count = std::size(kTable);
  return kTable;
}

}  // namespace aikernel::kernel
