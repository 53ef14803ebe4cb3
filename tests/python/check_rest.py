#!/usr/bin/env python3
"""Third-party check: a plain HTTP client (urllib) against the simulated router's REST API.

Usage: check_rest.py HOST PORT VERSION [FINGERPRINT]
HTTPS without CA verification; with FINGERPRINT (AB:CD:...) the server certificate's
SHA-256 must match it.
Exits 0 when every step behaves like RouterOS REST; otherwise prints what differed and exits 1.
"""
import base64
import hashlib
import json
import socket
import ssl
import sys
import urllib.error
import urllib.request
import uuid


def fail(message):
    print(f"check_rest: {message}", file=sys.stderr)
    sys.exit(1)


class Rest:
    def __init__(self, host, port, user="admin", password=""):
        self.base = f"https://{host}:{port}/rest"
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method, path, body=None, auth=True):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if auth:
            req.add_header("Authorization", self.auth)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)


def main():
    if len(sys.argv) < 4:
        fail(__doc__)
    host, port, version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rest = Rest(host, port)
    if len(sys.argv) > 4:
        with rest.ctx.wrap_socket(socket.create_connection((host, port), timeout=10)) as tls:
            der = tls.getpeercert(binary_form=True)
        got = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        if got != sys.argv[4].upper():
            fail(f"certificate fingerprint {got} is not the printed {sys.argv[4]}")

    status, body = rest.call("GET", "/system/resource", auth=False)
    if status != 401 or body != {"error": 401, "message": "Unauthorized"}:
        fail(f"no credentials: expected 401 Unauthorized, got {status} {body!r}")

    status, body = rest.call("GET", "/system/resource")
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if status != 200 or not str(body.get("version", "")).startswith(version):
        fail(f"GET /system/resource: got {status} {body!r}")

    name = "rest-" + uuid.uuid4().hex[:8]
    status, user = rest.call("PUT", "/ip/hotspot/user",
                             {"name": name, "password": "pw", "comment": "rest", "limit-bytes-total": 1048576})
    if status // 100 != 2 or not str(user.get(".id", "")).startswith("*"):
        fail(f"PUT user: got {status} {user!r}")
    if not all(isinstance(v, str) for v in user.values()) or user.get("limit-bytes-total") != "1048576":
        fail(f"PUT user: values must all be strings: {user!r}")
    uid = user[".id"]

    status, rows = rest.call("POST", "/ip/hotspot/user/print",
                             {".proplist": [".id", "name"], ".query": [f"name={name}"]})
    if status != 200 or rows != [{".id": uid, "name": name}]:
        fail(f"POST print with .query: got {status} {rows!r}")

    # `.proplist` returns the listed properties and no others: `.id` only when listed,
    # for GET and POST print alike (DOC-REST's GET ?.proplist=address,disabled example).
    status, got = rest.call("GET", f"/ip/hotspot/user?name={name}&.proplist=name,comment")
    status2, posted = rest.call("POST", "/ip/hotspot/user/print",
                                {".proplist": "name,comment", ".query": [f"name={name}"]})
    if (status, status2) != (200, 200) or got != posted or got != [{"name": name, "comment": "rest"}]:
        fail(f".proplist=name,comment: GET gave {status} {got!r}, POST print gave {status2} {posted!r}")

    status, rows = rest.call("GET", f"/ip/hotspot/user?name={name}")
    if status != 200 or len(rows) != 1 or rows[0].get("comment") != "rest":
        fail(f"GET with a filter: got {status} {rows!r}")

    status, body = rest.call("PUT", "/ip/hotspot/user", {"name": name, "password": "pw"})
    expected = {"error": 400, "message": "Bad Request",
                "detail": "failure: already have user with this name for this server"}
    if status != 400 or body != expected:
        fail(f"duplicate PUT: got {status} {body!r}")

    status, body = rest.call("PATCH", f"/ip/hotspot/user/{uid}", {"disabled": "yes"})
    if status != 200 or body.get("disabled") != "true":
        fail(f"PATCH disabled=yes: got {status} {body!r}")

    status, body = rest.call("DELETE", f"/ip/hotspot/user/{uid}")
    if status // 100 != 2:
        fail(f"DELETE: got {status} {body!r}")
    status, body = rest.call("DELETE", f"/ip/hotspot/user/{uid}")
    if status != 404 or body != {"error": 404, "message": "Not Found"}:
        fail(f"DELETE again: expected 404 Not Found, got {status} {body!r}")

    status, body = rest.call("GET", "/nonexistent")
    if status != 400 or body.get("detail") != "no such command or directory (nonexistent)":
        fail(f"unknown path: got {status} {body!r}")

    print(f"check_rest: ok ({version})")


if __name__ == "__main__":
    main()
