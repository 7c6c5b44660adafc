#!/usr/bin/env python3
"""A streamable HTTP MCP server that issues no session ids (the spec lets a
server run without them), for tests of how a 404 is read without a session.

POST /mcp takes one JSON-RPC message and answers it as JSON: initialize,
notifications/initialized (202), tools/list (echo, vanish), tools/call echo
(the text back) and tools/call vanish, which answers HTTP 404 as a server
does for a resource that is gone. GET and DELETE are 405 (no event stream,
no session to end). Binds 127.0.0.1 on the port given as argv[1] ("0": any)
and prints "listening PORT" on stdout once it accepts.
"""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(405, b"no event stream", "text/plain")

    def do_DELETE(self):
        self.answer(405, b"no session", "text/plain")

    def do_POST(self):
        msg = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        method, mid = msg.get("method"), msg.get("id")
        if mid is None:
            self.answer(202)
            return
        if method == "initialize":
            result = {"protocolVersion": msg["params"]["protocolVersion"],
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "sessionless", "version": "1"}}
        elif method == "tools/list":
            schema = {"type": "object", "properties": {"message": {"type": "string"}}}
            result = {"tools": [{"name": "echo", "description": "echo", "inputSchema": schema},
                                {"name": "vanish", "description": "404", "inputSchema": schema}]}
        elif method == "tools/call" and msg["params"]["name"] == "vanish":
            self.answer(404, b"gone", "text/plain")
            return
        elif method == "tools/call":
            text = msg["params"].get("arguments", {}).get("message", "")
            result = {"content": [{"type": "text", "text": "Echo: " + text}]}
        else:
            result = {}
        self.answer(200, json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}).encode())


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
