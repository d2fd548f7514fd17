#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tokenserver: a small Docker/OCI token server for tests (the Bearer realm of a registry
configured with `auth: token:`).

Usage: tokenserver.py KEY.pem CERT.pem ISSUER SERVICE USERS LOG [--expires-in S]
                      [--private REPO[,REPO...]]

Listens on 127.0.0.1 (free port, printed on stdout). GET /token?service=S&scope=repository:
NAME:ACTIONS answers {"token", "access_token", "expires_in"} with an RS256 JWT whose header
carries the signing certificate (x5c), signed with `openssl dgst` (the standard library has
no RSA). The token expires (JWT exp, and expires_in) after S seconds (default 300).
USERS is a comma-separated list of USER:PASS (Basic): pull and push on every repository, or
USER:PASS=REPO+REPO...: pull and push on those repositories only. Anonymous requests get pull
access to every repository but the --private ones; wrong credentials get 401. Every request
is logged to LOG as "AUTH=<user or -> <query> granted=<repository:actions;...>".
"""
import argparse
import base64
import http.server
import json
import math
import os
import subprocess
import sys
import time
import urllib.parse

ap = argparse.ArgumentParser()
for a in ("key", "cert", "issuer", "service", "users", "log"):
    ap.add_argument(a)
ap.add_argument("--expires-in", type=int, default=300)
ap.add_argument("--private", default="")
args = ap.parse_args()
key, cert, issuer, service, log_path = args.key, args.cert, args.issuer, args.service, args.log
users = {}  # user -> (password, set of repositories or None for all)
for entry in args.users.split(","):
    if not entry:
        continue
    user_pass, _, repos = entry.partition("=")
    user, _, password = user_pass.partition(":")
    users[user] = (password, set(repos.split("+")) if repos else None)
private = set(filter(None, args.private.split(",")))
log = open(log_path, "a", buffering=1)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    pem = open(cert).read()
    body = "".join(l for l in pem.splitlines() if "-----" not in l)
    return base64.b64decode(body)


X5C = base64.b64encode(cert_der()).decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    inp = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=inp.encode(),
                         capture_output=True, check=True).stdout
    return inp + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user_pass = base64.b64decode(auth[6:]).decode(errors="replace")
            user, _, password = user_pass.partition(":")
            if user not in users or users[user][0] != password:
                log.write(f"AUTH=bad {u.query}\n")
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        elif auth:
            log.write(f"AUTH=other {u.query}\n")
        access = []
        for s in q.get("scope", []):
            typ, name, actions = s.split(":", 2)
            if user is None:
                ok = name not in private
            else:
                ok = users[user][1] is None or name in users[user][1]
            allowed = [a for a in actions.split(",")
                       if ok and (a == "pull" or (user and a == "push"))]
            access.append({"type": typ, "name": name, "actions": allowed})
        granted = ";".join(f"{a['name']}:{','.join(a['actions'])}" for a in access)
        log.write(f"AUTH={user or '-'} {u.query} granted={granted}\n")
        now = int(time.time())
        # exp rounded up: the token lives at least expires_in seconds from now.
        token = sign({"iss": issuer, "sub": user or "", "aud": service,
                      "exp": math.ceil(time.time()) + args.expires_in, "nbf": now - 10,
                      "iat": now,
                      "jti": b64url(os.urandom(12)), "access": access})
        body = json.dumps({"token": token, "access_token": token,
                           "expires_in": args.expires_in}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
