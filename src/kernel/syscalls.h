// kernel::Syscall: the table of every call the kernel serves.
//
// One row per RPC method. The `action` is the stable name used in the audit
// ledger and, once the policy issue lands, as Cedar's Action entity id; it
// never changes meaning within proto package aikernel.v1. Immutable data;
// thread-safe.
#pragma once

#include <string_view>

namespace aikernel::kernel {

enum class Service { kKernel, kAdmin, kPolicy, kMemory, kMsg, kIdentity, kTools, kMcp, kFederation, kPeer };

enum class Syscall {
  kWhoami,       // Kernel.Whoami
  kAdminStatus,  // Admin.Status
  kAdminPing,    // Admin.Ping
  kAuditQuery,   // Admin.QueryAudit
  kReload,       // Admin.Reload
  kAgentRun,     // Admin.RunAgent
  kAgentList,    // Admin.ListAgents
  kAgentInspect, // Admin.InspectAgent
  kAgentStop,    // Admin.StopAgent
  kAgentKill,    // Admin.KillAgent
  kAgentRestart, // Admin.RestartAgent
  kAgentRemove,  // Admin.RemoveAgent
  kAgentLogs,    // Admin.AgentLogs
  kPolicyReload,    // Policy.ReloadPolicy
  kApprovalList,    // Policy.ListApprovals
  kApprovalDecide,  // Policy.DecideApproval
  // Memory service (proto/aikernel/v1/memory.proto). Actions memory.read /
  // write / search / delete / admin on resource "memory:<namespace>".
  kMemPut,              // Memory.Put
  kMemPutBatch,         // Memory.PutBatch
  kMemGet,              // Memory.Get
  kMemList,             // Memory.List
  kMemHistory,          // Memory.History
  kMemDelete,           // Memory.Delete
  kMemAppendEvent,      // Memory.AppendEvent
  kMemReadEvents,       // Memory.ReadEvents
  kMemPutDocument,      // Memory.PutDocument
  kMemGetDocument,      // Memory.GetDocument
  kMemDeleteDocument,   // Memory.DeleteDocument
  kMemSearch,           // Memory.Search
  kMemGetNamespace,     // Memory.GetNamespace
  kMemListNamespaces,   // Memory.ListNamespaces
  kMemCreateNamespace,  // Memory.CreateNamespace
  kMemSetQuota,         // Memory.SetQuota
  kMemDropNamespace,    // Memory.DropNamespace
  kMemCompact,          // Memory.Compact
  kMemExport,           // Memory.Export
  kMemImport,           // Memory.Import
  // Msg service (proto/aikernel/v1/msg.proto, docs/net.md).
  kMsgSend,     // Msg.Send      msg.send on agent:<to>
  kMsgReceive,  // Msg.Receive   msg.receive on agent:<inbox>
  kMsgAck,      // Msg.Ack       msg.receive on agent:<inbox>
  kMsgList,     // Msg.List      msg.list on messages:<box>
  kPolicyExplain,       // Policy.ExplainDecision
  // Identity service (proto/aikernel/v1/identity.proto): docs/identity.md.
  kIdentityFetchX509,    // Identity.FetchX509SVID
  kIdentityFetchJwt,     // Identity.FetchJWTSVID
  kIdentityValidateJwt,  // Identity.ValidateJWTSVID
  kIdentityBundle,       // Identity.TrustBundle
  kIdentityRotateCa,     // Identity.RotateCA
  // Tools service (proto/aikernel/v1/tools.proto, docs/tools.md).
  kToolList,      // Tools.ListTools (resource node:<node>)
  kToolDescribe,  // Tools.DescribeTool (tool:<name>)
  kToolCall,      // Tools.CallTool (tool:<name>)
  kToolAccept,    // Tools.AcceptTool (tool:<name>)
  // Mcp service (proto/aikernel/v1/mcp.proto, docs/mcp.md).
  kMcpList,       // Mcp.ListMcpServers (node:<node>)
  // Federation and Peer services (proto/aikernel/v1/federation.proto).
  kNodeBundle,   // Federation.Bundle      node.bundle on node:<node>
  kPeerAdd,      // Federation.AddPeer     node.peer.add on peer:<name>
  kPeerList,     // Federation.ListPeers   node.peer.list on peer:*
  kPeerRemove,   // Federation.RemovePeer  node.peer.remove on peer:<name>
  kPeerDeliver,  // Peer.Deliver           msg.receive on agent:<recipient>, remote principal
  kPeerToolCall, // Peer.CallTool          tool.call on tool:<name>, remote principal
};

struct SyscallInfo {
  Syscall id;
  Service service;
  std::string_view action;  // e.g. "admin.status"
  std::string_view method;  // e.g. "/aikernel.v1.Admin/Status"
  std::string_view summary;
};

const SyscallInfo& Describe(Syscall s);
// All rows, in enum order; for docs and `aictl` listings.
const SyscallInfo* AllSyscalls(size_t* count);

}  // namespace aikernel::kernel
