#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""faultproxy: an HTTP proxy in front of a test registry that misbehaves on purpose.

Usage: faultproxy.py UPSTREAM_HOST:PORT RULES.json LOG

Listens on 127.0.0.1 with a free port and prints it on stdout once ready. Every request is
logged to LOG as "METHOD PATH -> ACTION". RULES.json is a list of
  {"match": "<regex on the path>", "method": "GET" (optional), "actions": ["503", ...]}
The n-th request matching a rule gets the n-th action (the last one repeats):
  "pass"       forward to the upstream as is
  "NNN"        answer status NNN with an empty body
  "NNN:V"      the same with "Retry-After: V"; V "date+S" / "date-S" is the HTTP-date S
               seconds from now / ago, anything else is sent as is
  "drop"       forward the headers and half the body, then close the connection
  "stall"      forward the headers and half the body, then send nothing more and keep the
               connection open (a server that never closes) until the client leaves
  "drip:S"     forward the headers, then one body byte every S seconds (slowloris)
  "throttle:R" forward the body at R bytes a second
  "hang"       read the request and never answer, until the client leaves
  "delay:S"    forward, then wait S seconds before answering (the upstream has seen the
               request at once: a slow answer, not a late request)
  "noauth"     forward without the request's Authorization header (as if the registry had
               refused the token: the upstream answers 401 with a challenge)
  "redirect:H" answer 307 with Location http://H + the same path (H may be a full URL prefix,
               or "self" for this proxy: a loop)
  "big"        answer 200 with a 5 MiB body
  "norange"    forward without the request's Range header (the upstream answers 200)
Log lines end with "auth=yes|no range=<Range header or -> authid=<first 8 hex of the SHA-256
of the Authorization header, or ->" (which token a request carried, never the token).
Standard library only; meant for 127.0.0.1.
"""
import email.utils
import hashlib
import http.client
import http.server
import json
import re
import select
import sys
import threading
import time

upstream, rules_path, log_path = sys.argv[1], sys.argv[2], sys.argv[3]
rules = json.load(open(rules_path))
counts = [0] * len(rules)
lock = threading.Lock()
log = open(log_path, "a", buffering=1)


def action_for(method, path):
    with lock:
        for i, r in enumerate(rules):
            if r.get("method", method) == method and re.search(r["match"], path):
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

    def wait_for_client_to_leave(self):
        """Sends nothing more; returns once the client closes its end."""
        while True:
            r, _, _ = select.select([self.connection], [], [], 1.0)
            if r:
                try:
                    if not self.connection.recv(4096):
                        break
                except OSError:
                    break
        self.close_connection = True

    def handle_any(self, head):
        act = action_for(self.command, self.path)
        authorization = self.headers.get("Authorization")
        authz = "yes" if authorization else "no"
        authid = hashlib.sha256(authorization.encode()).hexdigest()[:8] if authorization else "-"
        rng = self.headers.get("Range") or "-"
        log.write(f"{self.command} {self.path} -> {act} auth={authz} range={rng} authid={authid}\n")
        if act == "hang":
            self.wait_for_client_to_leave()
            return
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
        mode, _, arg = act.partition(":")
        if mode not in ("pass", "drop", "norange", "stall", "drip", "throttle", "delay", "noauth"):
            code, _, after = act.partition(":")
            self.send_response(int(code))
            if after.startswith("date+") or after.startswith("date-"):
                after = email.utils.formatdate(time.time() + float(after[4:]), usegmt=True)
            if after:
                self.send_header("Retry-After", after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, _, port = upstream.rpartition(":")
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() != "host" and not (act == "norange" and k.lower() == "range")
                   and not (act == "noauth" and k.lower() == "authorization")}
        headers["Host"] = upstream
        c.request(self.command, self.path, headers=headers)
        r = c.getresponse()
        body = r.read()
        if mode == "delay":
            time.sleep(float(arg))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "connection"):
                continue
            if k.lower() == "content-length" and not head:
                continue
            if k.lower() == "location":
                v = v.replace(upstream, self.headers.get("Host", upstream))
            self.send_header(k, v)
        if not head:
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
        if act == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.wait_for_client_to_leave()
            return
        try:
            if mode == "drip":
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(float(arg))
                return
            if mode == "throttle":
                step = max(1, int(float(arg)) // 10)
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
        except OSError:
            self.close_connection = True
            return
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
