#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""faultproxy: an HTTP proxy in front of a test registry that misbehaves on purpose.

Usage: faultproxy.py UPSTREAM_HOST:PORT RULES.json LOG

Listens on 127.0.0.1 with a free port and prints it on stdout once ready. Every request is
logged to LOG as "METHOD PATH -> ACTION". RULES.json is a list of
  {"match": "<regex on the path>", "actions": ["503", "429:1", "drop", "pass", ...]}
The n-th request matching a rule gets the n-th action (the last one repeats):
  "pass"       forward to the upstream as is
  "NNN"        answer status NNN with an empty body
  "NNN:S"      the same with "Retry-After: S"
  "drop"       forward the headers and half the body, then close the connection
  "redirect:H" answer 307 with Location http://H + the same path (H may be a full URL prefix,
               or "self" for this proxy: a loop)
  "big"        answer 200 with a 5 MiB body
  "norange"    forward without the request's Range header (the upstream answers 200)
Log lines end with "auth=yes|no range=<Range header or ->".
Standard library only; meant for 127.0.0.1.
"""
import http.client
import http.server
import json
import re
import sys
import threading

upstream, rules_path, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
rules = json.load(open(rules_path))
counts = [0] * len(rules)
lock = threading.Lock()
log = open(log_path, "a", buffering=1)


def action_for(path):
    with lock:
        for i, r in enumerate(rules):
            if re.search(r["match"], path):
                acts = r["actions"]
                a = acts[min(counts[i], len(acts) - 1)]
                counts[i] += 1
                return a
    return "pass"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    def handle_any(self, head):
        act = action_for(self.path)
        authz = "yes" if self.headers.get("Authorization") else "no"
        rng = self.headers.get("Range") or "-"
        log.write(f"{self.command} {self.path} -> {act} auth={authz} range={rng}\n")
        if act.startswith("redirect:"):
            target = act[len("redirect:"):]
            if target == "self":
                target = self.headers.get("Host", "")
            if "://" not in target:
                target = "http://" + target
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if act == "big":
            body = b"{" + b" " * (5 * 1024 * 1024) + b"}"
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if act not in ("pass", "drop", "norange"):
            code, _, after = act.partition(":")
            self.send_response(int(code))
            if after:
                self.send_header("Retry-After", after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, _, port = upstream.rpartition(":")
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() != "host" and not (act == "norange" and k.lower() == "range")}
        headers["Host"] = upstream
        c.request(self.command, self.path, headers=headers)
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if k.lower() == "location":
                v = v.replace(upstream, self.headers.get("Host", upstream))
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if act == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
