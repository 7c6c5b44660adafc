#!/usr/bin/python3
# A deliberately misbehaving MCP server for the fault tests (the real
# servers from npm cover the normal path). Speaks MCP over stdio; every line
# it receives is echoed to stderr as "recv: <line>" so a test can read from
# the server's log what the daemon sent (e.g. notifications/cancelled).
#
# argv: [--version V] [--describe FILE]
#   --version V    answer initialize with protocol version V (default: the
#                  client's own offer)
#   --describe F   the description of tool "echo" is the content of F,
#                  re-read on every tools/list (pin tests change it)
# Tools: echo {message, notify?, result?} (sends `notify` as a message of
# its own first; answers `result` instead of the echo if given), sleep {}
# (never answers), die {code}, flood {mb}
# (writes one line of that many MB), spam {n} (n notifications at once),
# garbage {} (a line that is not JSON), relist {} (list_changed), received {}
# (every line received so far, one text: what the daemon sent, answered on
# stdout so it is ordered with the calls, unlike the stderr log); tools come
# on two tools/list pages.
import json
import os
import sys

args = sys.argv[1:]
version = None
describe = None
while args:
    a = args.pop(0)
    if a == "--version":
        version = args.pop(0)
    elif a == "--describe":
        describe = args.pop(0)

out = sys.stdout


def send(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def tool(name, desc, props=None, required=None):
    schema = {"type": "object", "properties": props or {}}
    if required:
        schema["required"] = required
    return {"name": name, "description": desc, "inputSchema": schema}


def echo_description():
    if describe:
        with open(describe) as f:
            return f.read()
    return "Echoes the message"


PAGE1 = lambda: [
    tool("echo", echo_description(), {"message": {"type": "string"}}, ["message"]),
    tool("sleep", "Never answers"),
    tool("die", "Exits with a code", {"code": {"type": "integer"}}),
    tool("flood", "Writes one huge line", {"mb": {"type": "integer"}}),
]
PAGE2 = lambda: [
    tool("spam", "Sends n notifications", {"n": {"type": "integer"}}),
    tool("garbage", "Writes a line that is not JSON"),
    tool("relist", "Announces tools/list_changed"),
    tool("received", "Every line received so far"),
]
received = []

for line in sys.stdin:
    sys.stderr.write("recv: " + line)
    sys.stderr.flush()
    received.append(line)
    msg = json.loads(line)
    method = msg.get("method")
    mid = msg.get("id")
    if method == "initialize":
        v = version or msg["params"]["protocolVersion"]
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": v, "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "fake", "version": "1"}}})
    elif method == "tools/list":
        cursor = (msg.get("params") or {}).get("cursor")
        if cursor == "page2":
            send({"jsonrpc": "2.0", "id": mid, "result": {"tools": PAGE2()}})
        else:
            send({"jsonrpc": "2.0", "id": mid,
                  "result": {"tools": PAGE1(), "nextCursor": "page2"}})
    elif method == "tools/call":
        name = msg["params"]["name"]
        a = msg["params"].get("arguments") or {}
        if name == "echo":
            if "notify" in a:
                send(a["notify"])
            send({"jsonrpc": "2.0", "id": mid, "result": a.get("result") or {
                "content": [{"type": "text", "text": a.get("message", "")}]}})
        elif name == "sleep":
            pass
        elif name == "die":
            sys.exit(int(a.get("code", 3)))
        elif name == "flood":
            chunk = "x" * (1 << 20)
            out.write('{"jsonrpc":"2.0","id":%d,"result":"' % mid)
            for _ in range(int(a.get("mb", 100))):
                out.write(chunk)
            out.write('"}\n')
            out.flush()
        elif name == "spam":
            for i in range(int(a.get("n", 5000))):
                out.write('{"jsonrpc":"2.0","method":"notifications/progress","params":'
                          '{"progressToken":1,"progress":%d}}\n' % i)
            out.flush()
        elif name == "garbage":
            out.write("this is not json\n")
            out.flush()
        elif name == "received":
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": "".join(received)}]}})
        elif name == "relist":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": []}})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        else:
            send({"jsonrpc": "2.0", "id": mid,
                  "error": {"code": -32602, "message": "unknown tool " + name}})
    elif mid is not None and method is not None:
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
