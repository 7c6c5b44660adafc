// aikernel::Client: a connection to the local aikerneld, for agents and tools.
//
// A Client wraps one channel to the daemon's Kernel and Admin services. Every
// call goes through the daemon's governed path (authenticate, authorize,
// execute, audit) and every result, success or failure, carries the sequence
// number of the audit record the daemon wrote for it (0 if none came back).
//
// Thread-safety: a Client is safe for concurrent use from many threads without
// external synchronization; calls on one Client share one connection.
// Callbacks passed to QueryAudit run on the calling thread.
//
// Ownership: Connect returns a std::unique_ptr<Client>; destroying it closes
// the connection. A file descriptor handed over (ClientOptions::fd or the
// AIKERNEL_FD environment variable) is owned by the Client from the moment
// Connect returns successfully (it is set O_NONBLOCK and FD_CLOEXEC).
//
// Errors are values: no method throws. Only include/aikernel/ is public; do
// not rely on any other aikernel header.
//
//   auto client = aikernel::Client::Connect({});
//   if (!client.ok()) { fprintf(stderr, "%s\n", client.status().ToString().c_str()); ... }
//   auto me = (*client)->Whoami();
//   if (me.ok()) printf("%s\n", me->principal.id.c_str());
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "aikernel/identity.h"
#include "aikernel/memory.h"
#include "aikernel/msg.h"
#include "aikernel/status.h"
#include "aikernel/mcp.h"
#include "aikernel/tools.h"

namespace aikernel {
inline namespace sdk {

// Nanosecond-precision UTC time point.
using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

// The socket the daemon listens on when nothing else is said.
inline constexpr const char* kDefaultSocketPath = "/run/aikernel/aikernel.sock";

struct ClientOptions {
  // Path of the daemon's Unix socket. Empty: not set (see Connect).
  std::string socket_path;
  // A connected socket to the daemon; the Client takes ownership on success.
  // -1: not set. Setting both fd and socket_path is INVALID_ARGUMENT.
  int fd = -1;
  // Deadline for calls whose CallOptions set none. Zero: no deadline.
  std::chrono::milliseconds default_timeout{0};
  // How long Connect waits for a socket path to accept. Zero: do not wait;
  // the connection is then made on the first call.
  std::chrono::milliseconds connect_timeout{5000};
};

// Where Connect goes, and why.
struct Endpoint {
  enum class Source { kOption, kEnvFd, kEnvSocket, kDefault };
  Source source = Source::kDefault;
  int fd = -1;       // >= 0: a connected socket
  std::string path;  // otherwise: a Unix socket path
  // "/run/aikernel/aikernel.sock" or "fd 3 (AIKERNEL_FD)".
  std::string ToString() const;
};

// Picks the endpoint, in order: options.fd or options.socket_path; the
// environment variable AIKERNEL_FD (an inherited connected Unix socket); the
// environment variable AIKERNEL_SOCKET (a path); kDefaultSocketPath. Empty
// variables count as unset. Checks syntax only: INVALID_ARGUMENT if
// AIKERNEL_FD is not a non-negative integer or both options are set.
Result<Endpoint> ResolveEndpoint(const ClientOptions& options);

struct CallOptions {
  // Deadline for this call, measured from its start. Unset: the Client's
  // default_timeout. Zero: no deadline. For a streaming call it bounds the
  // whole stream.
  std::optional<std::chrono::milliseconds> timeout;
  // Requesting stop cancels the call (CANCELLED, or for QueryAudit a normal
  // end with `cancelled` set). Default: never stopped.
  std::stop_token stop;
  // A JWT-SVID to present with the call (gRPC metadata "authorization:
  // Bearer <token>"). It never changes who the caller is: the daemon checks
  // it is the connection's own identity and, if it is not (another agent's
  // token, or any token from a process that is not that agent), refuses the
  // call with kUnauthenticated and records the refusal. It must be valid
  // for the node's audience spiffe://<trust-domain>/node. Empty: none.
  std::string bearer_token;
};

enum class PrincipalKind { kUnspecified = 0, kAnonymous = 1, kUser = 2, kOperator = 3, kAgent = 4 };
// "unspecified", "anonymous", "user", "operator", "agent".
const char* PrincipalKindName(PrincipalKind kind);

// Who the daemon says the caller is (established from the connection, never
// from a request field).
struct Principal {
  PrincipalKind kind = PrincipalKind::kUnspecified;
  std::string id;  // canonical, as in the audit ledger: "operator:0", "user:1000"
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::string spiffe_id;    // agents only
  std::string instance_id;  // agents only
  std::vector<uint32_t> groups;  // supplementary groups at connect time
  bool admin = false;            // an operator: uid 0 or in daemon.admin_group
  std::string admin_via;         // "uid 0" / "admin group <gid>"; "" if not admin
  int64_t admin_gid = -1;        // daemon.admin_group in force; -1: none
  std::vector<std::string> agent_groups;  // agents only: its spec's groups
};

struct WhoamiResult {
  Principal principal;
  std::string node;  // the node that answered
  uint64_t audit_sequence = 0;
};

struct LedgerHead {
  uint64_t sequence = 0;  // newest durable record; 0 if the ledger is empty
  std::string hash;       // raw bytes (32) of that record's hash; see HexEncode
  uint64_t checkpoint_sequence = 0;  // covered by the newest signed checkpoint
  std::string key_id;                // hex id of the checkpoint signing key
};

struct CallCounts {
  uint64_t total = 0;
  uint64_t denied = 0;
  uint64_t failed = 0;
  uint64_t connections = 0;
};

// What confinement agents get on the daemon's host.
struct ConfinementSummary {
  std::string summary;                  // one line
  std::vector<std::string> mechanisms;  // e.g. "landlock-abi7", "seccomp", "rlimit:as"
  std::vector<std::string> profiles;    // "<name>: <what it confines>" per sandbox profile
};

struct NodeStatus {
  std::string version;
  Timestamp started_at{};
  std::chrono::nanoseconds uptime{0};
  std::string node;
  std::string socket;
  std::string state_dir;
  std::string audit_synchronous;  // "full" or "normal"
  LedgerHead ledger;
  CallCounts calls;
  ConfinementSummary confinement;  // empty when agents are disabled
  uint32_t agents_total = 0;
  uint32_t agents_running = 0;
  uint32_t agents_queued = 0;
  uint64_t audit_sequence = 0;
};

struct PingResult {
  std::string payload;                     // echoed by the daemon
  std::chrono::nanoseconds round_trip{0};  // measured by the client
  uint64_t audit_sequence = 0;
};

struct ReloadResult {
  std::vector<std::string> applied;        // keys that took effect
  std::vector<std::string> needs_restart;  // keys that changed but need a restart
  uint64_t audit_sequence = 0;
};

enum class Decision { kUnspecified = 0, kAllow = 1, kDeny = 2 };
// "unspecified", "allow", "deny".
const char* DecisionName(Decision d);

// One ledger record, field for field as docs/ledger-format.md defines it.
struct AuditRecord {
  uint64_t sequence = 0;
  Timestamp time{};
  std::string node;
  std::string principal;
  std::string action;
  std::string resource;
  std::string request_digest;  // raw bytes
  Decision decision = Decision::kUnspecified;
  std::vector<std::string> rule_ids;
  int32_t code = 0;  // gRPC code of the call's outcome
  std::chrono::nanoseconds latency{0};
  std::string prev_hash;  // raw bytes
  std::string hash;       // raw bytes
};

struct AuditFilter {
  std::string principal;  // exact; empty: any
  std::string action;     // exact; empty: any
  Decision decision = Decision::kUnspecified;  // kUnspecified: any
  std::optional<Timestamp> since;  // time >= since
  std::optional<Timestamp> until;  // time < until
  uint32_t limit = 0;              // 0: no limit (with `last`: none)
  uint64_t after_sequence = 0;     // sequence > after_sequence
  bool last = false;    // the newest `limit` matches, still oldest first
  bool follow = false;  // then keep streaming new matches until cancelled
};

struct QueryResult {
  uint64_t records = 0;    // records passed to the callback
  bool cancelled = false;  // the callback returned false or stop was requested
  uint64_t audit_sequence = 0;
};

// ---- agents (docs/agents.md) ----

enum class RestartPolicy { kNo = 1, kOnFailure = 2, kAlways = 3 };
// "no", "on-failure", "always".
const char* RestartPolicyName(RestartPolicy p);

// Zero / empty fields take the daemon's defaults (agent.proto documents them).
struct AgentRestart {
  RestartPolicy policy = RestartPolicy::kNo;
  std::chrono::milliseconds backoff_initial{0};  // 0: 500 ms
  std::chrono::milliseconds backoff_max{0};      // 0: 30 s
  std::optional<uint32_t> max_restarts;          // unset: 5
  std::chrono::milliseconds window{0};           // 0: 60 s
};

struct AgentLimits {
  uint64_t memory_bytes = 0;            // 0: 256 MiB
  uint64_t pids = 0;                    // 0: 64
  double cpu = 0;                       // cores; 0: 1.0; negative: no limit
  uint64_t open_files = 0;              // 0: 256
  std::chrono::milliseconds timeout{0};  // wall clock per instance; 0: none
};

// Hard quotas the kernel enforces before policy; 0: none (agent.proto).
struct AgentCallQuota {
  uint64_t per_minute = 0;
  uint64_t per_hour = 0;
  uint64_t total = 0;  // over the agent instance's lifetime
};

struct AgentQuotas {
  AgentCallQuota calls;  // every action together
  uint64_t bytes_per_minute = 0;
  uint64_t bytes_per_hour = 0;
  uint64_t tool_calls = 0;  // tool.call budget over the instance's lifetime
  std::map<std::string, AgentCallQuota> actions;  // per action id
};

struct AgentSpec {
  std::string name;
  std::string command;  // absolute path
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string workdir;  // empty: <state_dir>/agents/<name>
  std::vector<std::string> groups;
  std::optional<int> priority;  // 0..100, higher first; unset: 50
  std::string profile;          // empty: "default"
  uint32_t uid = 0;             // 0: the daemon's default
  uint32_t gid = 0;
  std::chrono::milliseconds stop_grace{0};  // 0: 10 s
  AgentRestart restart;
  AgentLimits limits;
  AgentQuotas quotas;
};

enum class AgentState {
  kUnspecified = 0, kQueued = 1, kStarting = 2, kRunning = 3, kExited = 4, kFailed = 5,
  kStopped = 6
};
// "queued", "starting", "running", "exited", "failed", "stopped".
const char* AgentStateName(AgentState s);

struct AgentInstance {
  std::string id;  // empty: never spawned
  int32_t pid = 0;
  std::optional<Timestamp> started_at;
  std::optional<Timestamp> ended_at;
  int32_t exit_code = -1;
  int32_t signal = 0;
  std::string reason;
};

struct AgentStatus {
  AgentSpec spec;  // with the daemon's defaults filled in
  AgentState state = AgentState::kUnspecified;
  std::string reason;
  int32_t exit_code = -1;
  int32_t signal = 0;
  std::optional<Timestamp> created_at;
  std::optional<Timestamp> state_since;
  uint32_t queue_position = 0;  // queued: 1 = next
  std::optional<Timestamp> restart_at;
  uint32_t restarts = 0;
  std::string spiffe_id;
  std::string confinement;
  std::string log_path;
  AgentInstance instance;
  uint64_t audit_sequence = 0;  // of the call that returned it (0 in lists)
};

struct AgentList {
  std::vector<AgentStatus> agents;
  uint64_t audit_sequence = 0;
};

struct AgentLogOptions {
  bool follow = false;
  std::optional<uint64_t> tail_bytes;  // unset: the whole current file
  bool include_rotated = false;
};

struct LogsResult {
  uint64_t bytes = 0;
  bool cancelled = false;  // the callback returned false or stop was requested
  uint64_t audit_sequence = 0;
};

struct PolicyReloadResult {
  std::string digest;  // hex SHA-256 of the policy set now in force
  uint32_t policies = 0;
  std::vector<std::string> files;  // relative to the daemon's policy.dir
  bool changed = false;            // differs from the previous set
  uint64_t audit_sequence = 0;
};

// A call parked by an @approval policy, waiting for an operator.
struct Approval {
  uint64_t id = 0;
  std::string principal, action, resource;
  std::string reason;  // the @approval annotation's text
  std::vector<std::string> rule_ids;
  Timestamp requested_at{};
  Timestamp deadline{};
};

// Policy.ExplainDecision (policy.proto documents each field).
struct ExplainedPolicy {
  std::string id;
  std::string role;  // "determining" | "errored"
  std::string file;
  uint32_t line = 0;
  std::string text;
};

struct DecisionExplanation {
  AuditRecord record;
  std::string decided_by;  // "policy", "quota", "authentication", "kernel"
  std::vector<std::string> determining_policies;
  std::vector<std::string> errored_policies;
  std::vector<std::string> notes;
  std::string policy_set_digest;  // "" if unknown
  uint64_t policy_load_sequence = 0;
  std::string current_policy_set_digest;
  bool policy_set_changed = false;
  std::vector<ExplainedPolicy> policies;  // when the set is unchanged
  uint64_t audit_sequence = 0;            // of the explain call itself
};

struct ApprovalList {
  std::vector<Approval> approvals;
  uint64_t audit_sequence = 0;
};

// Lower-case hex of raw bytes.
std::string HexEncode(std::string_view bytes);

class Client {
 public:
  // Resolves the endpoint (ResolveEndpoint) and opens a channel to it.
  // Socket path: waits up to connect_timeout for the daemon to accept; on
  // failure UNAVAILABLE "cannot connect to <path>: <errno text> — is aikerneld
  // running?" (PERMISSION_DENIED if the socket refuses this user,
  // INVALID_ARGUMENT if the path is too long). Fd: INVALID_ARGUMENT if it is
  // not an open socket; FAILED_PRECONDITION if an earlier Connect in this
  // process already took AIKERNEL_FD (share that Client instead).
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The endpoint this Client is connected to.
  const Endpoint& endpoint() const;

  // Kernel.Whoami: the caller's principal. Allowed for everyone.
  Result<WhoamiResult> Whoami(const CallOptions& call = {});
  // Admin.Status. Operators only (else PERMISSION_DENIED).
  Result<NodeStatus> Status(const CallOptions& call = {});
  // Admin.Ping: a governed no-op echoing `payload` (at most 4096 bytes).
  Result<PingResult> Ping(std::string_view payload, const CallOptions& call = {});
  // Admin.Reload: re-read the daemon's configuration.
  Result<ReloadResult> Reload(const CallOptions& call = {});

  // Admin.QueryAudit: calls `on_record` for each matching record, oldest
  // first, until the stream ends, `on_record` returns false, or call.stop is
  // requested; the last two end the call with OK and `cancelled` set. With
  // filter.follow the stream ends only that way (or on a deadline / error).
  Result<QueryResult> QueryAudit(const AuditFilter& filter,
                                 const std::function<bool(const AuditRecord&)>& on_record,
                                 const CallOptions& call = {});

  // Admin agent calls (operators only). Errors: NOT_FOUND (no such agent),
  // INVALID_ARGUMENT naming the spec field, ALREADY_EXISTS, FAILED_PRECONDITION.
  Result<AgentStatus> RunAgent(const AgentSpec& spec, bool replace = false,
                               const CallOptions& call = {});
  Result<AgentList> ListAgents(const CallOptions& call = {});
  Result<AgentStatus> InspectAgent(std::string_view name, const CallOptions& call = {});
  // Returns once the agent has stopped. grace unset: the spec's stop_grace.
  Result<AgentStatus> StopAgent(std::string_view name,
                                std::optional<std::chrono::milliseconds> grace = std::nullopt,
                                const CallOptions& call = {});
  // signal 0: SIGKILL.
  Result<AgentStatus> KillAgent(std::string_view name, int signal, const CallOptions& call = {});
  Result<AgentStatus> RestartAgent(std::string_view name, const CallOptions& call = {});
  // The audit sequence of the call.
  Result<uint64_t> RemoveAgent(std::string_view name, bool force, const CallOptions& call = {});
  // Calls `on_data` with chunks of the agent's stdout/stderr until the end
  // (or, with follow, until on_data returns false or call.stop is requested).
  Result<LogsResult> AgentLogs(std::string_view name, const AgentLogOptions& options,
                               const std::function<bool(std::string_view)>& on_data,
                               const CallOptions& call = {});

  // Policy.ReloadPolicy: re-read the policy store. A set with an error is
  // INVALID_ARGUMENT naming file:line:col; the running set then stays.
  Result<PolicyReloadResult> ReloadPolicy(const CallOptions& call = {});
  // Policy.ListApprovals: calls waiting for an operator, oldest first.
  Result<ApprovalList> ListApprovals(const CallOptions& call = {});
  // Policy.DecideApproval: approve or deny waiting call `id` (NOT_FOUND if it
  // is not waiting). Returns the decision's audit sequence.
  Result<uint64_t> DecideApproval(uint64_t id, bool approve, std::string_view reason,
                                  const CallOptions& call = {});
  // Policy.ExplainDecision: why audit record `sequence` was decided as it
  // was. NOT_FOUND if there is no such record.
  Result<DecisionExplanation> ExplainDecision(uint64_t sequence, const CallOptions& call = {});

  // ---- Memory service (types: aikernel/memory.h) ----
  // Each is one governed call: memory.read / write / search / delete on the
  // namespace, or memory.admin for namespace management; the shipped
  // default policy allows operators everything and an agent its own
  // agent/<name>, and refuses everyone else (PERMISSION_DENIED). Errors
  // name their cause:
  // INVALID_ARGUMENT (the field), NOT_FOUND (namespace, key, document),
  // FAILED_PRECONDITION (a compare-and-set saw another version; the message
  // names it), RESOURCE_EXHAUSTED (the namespace's quota; nothing written),
  // UNAVAILABLE (memory.db or the ledger cannot be written; nothing
  // written). A write is acknowledged only once committed.

  // Writes the key's next version.
  Result<MemoryEntryResult> MemoryPut(std::string_view ns, std::string_view key,
                                      std::string_view value,
                                      const MemoryPutOptions& options = {},
                                      const CallOptions& call = {});
  // All writes in one transaction: all apply or none (the error names the
  // failing write's index).
  Result<MemoryVersions> MemoryPutBatch(std::string_view ns,
                                        const std::vector<MemoryWrite>& writes,
                                        const CallOptions& call = {});
  // `version` 0: the newest live version.
  Result<MemoryEntryResult> MemoryGet(std::string_view ns, std::string_view key,
                                      int64_t version = 0, const CallOptions& call = {});
  // One page of the newest live version of each key, by key.
  Result<MemoryEntries> MemoryList(std::string_view ns, const MemoryListOptions& options = {},
                                   const CallOptions& call = {});
  // Every stored version, newest first (tombstones included); `limit` 0: 1000.
  Result<MemoryEntries> MemoryHistory(std::string_view ns, std::string_view key,
                                      uint32_t limit = 0, const CallOptions& call = {});
  // Writes a tombstone version (NOT_FOUND if the key has no live version).
  Result<MemoryDeleteResult> MemoryDelete(std::string_view ns, std::string_view key,
                                          std::optional<int64_t> expected_version = {},
                                          const CallOptions& call = {});

  Result<MemoryEventResult> MemoryAppendEvent(std::string_view ns, const MemoryEventInput& event,
                                              const CallOptions& call = {});
  Result<MemoryEvents> MemoryReadEvents(std::string_view ns, const MemoryEventQuery& query = {},
                                        const CallOptions& call = {});

  // Creates or replaces the document `input.id`.
  Result<MemoryDocumentResult> MemoryPutDocument(std::string_view ns,
                                                 const MemoryDocumentInput& input,
                                                 const CallOptions& call = {});
  Result<MemoryDocumentResult> MemoryGetDocument(std::string_view ns, std::string_view id,
                                                 const CallOptions& call = {});
  Result<MemoryAck> MemoryDeleteDocument(std::string_view ns, std::string_view id,
                                         const CallOptions& call = {});
  Result<MemorySearchResult> MemorySearch(std::string_view ns, const MemorySearchQuery& query,
                                          const CallOptions& call = {});

  Result<MemoryNamespaceResult> MemoryGetNamespace(std::string_view ns,
                                                   const CallOptions& call = {});
  // Namespaces whose names start with `prefix` ("": all).
  Result<MemoryNamespaces> MemoryListNamespaces(std::string_view prefix = "",
                                                const CallOptions& call = {});
  Result<MemoryNamespaceResult> MemoryCreateNamespace(const MemoryNamespaceConfig& config,
                                                      const CallOptions& call = {});
  // New quotas (0: unlimited); returns the namespace after the change.
  Result<MemoryNamespaceResult> MemorySetQuota(std::string_view ns, int64_t max_bytes,
                                               int64_t max_records,
                                               const CallOptions& call = {});
  Result<MemoryAck> MemoryDropNamespace(std::string_view ns, const CallOptions& call = {});
  // Drops superseded versions and tombstones written before now - horizon;
  // `ns` empty: every namespace.
  Result<MemoryCompactResult> MemoryCompact(std::string_view ns,
                                            std::chrono::nanoseconds horizon = {},
                                            const CallOptions& call = {});

  // Streams the export's JSON lines (docs/memory.md), each without its
  // newline, to `on_line` until the end, `on_line` returns false, or
  // call.stop is requested (the last two: OK with `cancelled` set).
  Result<MemoryExportResult> MemoryExport(const MemoryExportOptions& options,
                                          const std::function<bool(std::string_view)>& on_line,
                                          const CallOptions& call = {});
  // Imports JSONL produced by MemoryExport, all or nothing (sent in chunks;
  // the daemon takes at most 1 GiB).
  Result<MemoryImportResult> MemoryImport(std::string_view jsonl, const CallOptions& call = {});

  // ---- Msg service (types: aikernel/msg.h; docs/net.md) ----
  // Send: msg.send on Agent::"<to>"; acknowledged once stored durably (the
  // recipient's inbox here, or the outbox for a peer node). Receive/Ack:
  // msg.receive on the inbox (an agent's own by default). List: operators.
  // Errors: INVALID_ARGUMENT (the field), NOT_FOUND (no such local agent, no
  // peer for the trust domain), PERMISSION_DENIED, UNAVAILABLE.
  Result<MsgSendResult> MsgSend(std::string_view to, std::string_view topic,
                                std::string_view payload, const MsgSendOptions& options = {},
                                const CallOptions& call = {});
  Result<MsgBatch> MsgReceive(const MsgReceiveOptions& options = {},
                              const CallOptions& call = {});
  Result<MsgAckResult> MsgAck(const std::vector<uint64_t>& seqs, std::string_view inbox = "",
                              const CallOptions& call = {});
  Result<MsgListResult> MsgList(const MsgListOptions& options = {},
                                const CallOptions& call = {});
  // ---- Tools service (types: aikernel/tools.h) ----
  // Every tool whose name starts with `prefix`, sorted by name.
  Result<ToolList> ListTools(std::string_view prefix = "", const CallOptions& call = {});
  // NOT_FOUND for an unknown tool.
  Result<ToolInfoResult> DescribeTool(std::string_view name, const CallOptions& call = {});
  // Runs `name` with `args_json` (a JSON object; "" means {}). Errors:
  // INVALID_ARGUMENT naming the field (schema, before policy),
  // PERMISSION_DENIED (policy), FAILED_PRECONDITION (refused until
  // accepted), RESOURCE_EXHAUSTED (size caps), DEADLINE_EXCEEDED, and the
  // tool's own failures. A tool that ran and reported an error is OK with
  // is_error set.
  Result<ToolCallResult> CallTool(std::string_view name, std::string_view args_json,
                                  const ToolCallOptions& options = {},
                                  const CallOptions& call = {});
  // Operators: re-pin a tool refused because it changed since pinned.
  Result<ToolInfoResult> AcceptTool(std::string_view name, const CallOptions& call = {});

  // ---- Identity service (types: aikernel/identity.h) ----
  // Each is one governed call (actions identity.*, docs/identity.md); the
  // shipped default policy allows an agent to fetch SVIDs for itself and to
  // validate JWT-SVIDs, operators everything, and refuses everyone else
  // (PERMISSION_DENIED).
  // Identity.FetchX509SVID: a new X.509-SVID for this agent (agents the
  // daemon spawned only; PERMISSION_DENIED for everyone else and for a
  // revoked instance). Use X509SvidSource to keep one current.
  Result<X509Svid> FetchX509SVID(const CallOptions& call = {});
  // Identity.FetchJWTSVID: a JWT-SVID for this agent naming `audiences`
  // (1..16). Agents only.
  Result<JwtSvid> FetchJWTSVID(const std::vector<std::string>& audiences,
                               const CallOptions& call = {});
  // Identity.ValidateJWTSVID: checks `token` for `audience` against this
  // node's bundle and revocations. Agents and operators. A refused token is
  // an OK result with valid == false.
  Result<JwtValidation> ValidateJWTSVID(std::string_view token, std::string_view audience,
                                        const CallOptions& call = {});
  // Identity.TrustBundle: the CA certificates (PEM), JWKS and SPIFFE
  // bundle. Operators (the shipped policy; a site may open it to agents).
  Result<TrustBundle> FetchTrustBundle(const CallOptions& call = {});
  // Identity.RotateCA: operators only.
  Result<RotateCAResult> RotateCA(const CallOptions& call = {});
  // ---- Mcp service (types: aikernel/mcp.h) ----
  // The MCP servers the daemon mounts: state, counters, last fault.
  Result<McpServerList> ListMcpServers(const CallOptions& call = {});

  // ---- Federation service (operators; docs/net.md) ----
  Result<NodeBundle> FederationBundle(const CallOptions& call = {});
  Result<PeerResult> AddPeer(const PeerInfo& peer, const CallOptions& call = {});
  Result<PeerList> ListPeers(const CallOptions& call = {});
  Result<PeerRemoved> RemovePeer(std::string_view name, const CallOptions& call = {});

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Keeps an agent's X.509-SVID current: Get() returns the cached SVID until
// half its lifetime has passed (X509Svid::RefreshAt), then fetches a new
// one. If that fetch fails while the cached SVID has not expired, Get()
// still returns the cached one (the next Get() tries again); once it has
// expired the error is returned. Thread-safe; the Client is not owned and
// must outlive the source. `now` is for tests.
class X509SvidSource {
 public:
  explicit X509SvidSource(Client* client,
                          std::function<Timestamp()> now = [] {
                            return std::chrono::time_point_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now());
                          })
      : client_(client), now_(std::move(now)) {}

  Result<X509Svid> Get(const CallOptions& call = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    const Timestamp now = now_();
    if (cached_ && now < cached_->RefreshAt()) return *cached_;
    Result<X509Svid> fresh = client_->FetchX509SVID(call);
    if (fresh.ok()) {
      cached_ = *fresh;
      ++fetches_;
      return fresh;
    }
    if (cached_ && now < cached_->expires_at) return *cached_;
    return fresh;
  }
  // How many SVIDs were fetched so far.
  uint64_t fetches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fetches_;
  }

 private:
  Client* client_;
  std::function<Timestamp()> now_;
  mutable std::mutex mu_;
  std::optional<X509Svid> cached_;  // guarded by mu_
  uint64_t fetches_ = 0;            // guarded by mu_
};

}  // namespace sdk
}  // namespace aikernel
