#!/usr/bin/env python3
"""A registry's front as Docker Hub's is, for the tests: in front of a
real registry (docker-registry, on loopback), it asks for a token
(401 with WWW-Authenticate: Bearer realm=…/token,service=…,scope=…),
hands one out at /token for the right basic credentials (GET), or for
the identity token "idtok-PASSWORD" as Docker's OAuth2 flow asks with one
(POST of grant_type=refresh_token, refresh_token, service, scope,
client_id; a wrong one gets 400 invalid_grant), and redirects
blobs to a "CDN" on another port, which refuses any request that carries
an Authorization header (a client must not send a registry's token to
another host).

  registry-front.py UPSTREAM_PORT PORT_FILE USER:PASSWORD [--flaky N]
                    [--corrupt] [--slow S] [--cut N] [--no-range]
                    [--rate BYTES_PER_S]

--flaky N: the first N blob requests answer 503.
--corrupt: the CDN changes a byte of every blob.
--slow S: the CDN waits S seconds before it answers.
--cut N: the CDN's first N answers of a layer (over 4 KiB) stop halfway (the connection
  closed); a Range asked for is passed to the registry, whose 206 and
  Content-Range come back, unless --no-range (then the whole blob).
--rate B: the CDN sends each answer at B bytes a second (a slow link).
Writes "FRONT_PORT CDN_PORT" to PORT_FILE once listening; a line per
request to stderr, and "cdn busy N" when N answers are being sent at
once (N > 1).
"""
import base64
import http.client
import http.server
import sys
import threading
import time
import urllib.parse

upstream = int(sys.argv[1])
port_file = sys.argv[2]
creds = sys.argv[3]
flaky = int(sys.argv[sys.argv.index("--flaky") + 1]) if "--flaky" in sys.argv else 0
corrupt = "--corrupt" in sys.argv
slow = float(sys.argv[sys.argv.index("--slow") + 1]) if "--slow" in sys.argv else 0
cut = int(sys.argv[sys.argv.index("--cut") + 1]) if "--cut" in sys.argv else 0
no_range = "--no-range" in sys.argv
rate = float(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else 0
busy = {"now": 0}
busy_lock = threading.Lock()
TOKEN = "tok-" + base64.b64encode(creds.encode()).decode()[:8]
state = {"flaky": flaky, "cut": cut, "cdn": None, "front": None}


def fetch(path, headers):
    c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    return r.status, r.getheaders(), r.read()


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.server.name, fmt % args))

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Front(Quiet):
    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode()) if n <= 65536 else {}
        if u.path != "/token":
            return self.send(404)
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded" or \
                "Authorization" in self.headers:
            return self.send(400, b'{"error":"invalid_request"}')
        if form.get("grant_type") != ["refresh_token"] or not form.get("client_id") or \
                form.get("service") != ["front.test"] or \
                not form.get("scope", [""])[0].startswith("repository:"):
            return self.send(400, b'{"error":"invalid_request"}')
        if form.get("refresh_token") != ["idtok-" + creds.split(":", 1)[1]]:
            return self.send(400, b'{"error":"invalid_grant"}')
        return self.send(200, b'{"access_token":"%s","expires_in":300,'
                         b'"refresh_token":"next"}' % TOKEN.encode())

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/token":
            q = urllib.parse.parse_qs(u.query)
            want = "Basic " + base64.b64encode(creds.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.send(401, b'{"details":"bad credentials"}')
            if q.get("service") != ["front.test"] or \
                    not q.get("scope", [""])[0].startswith("repository:"):
                return self.send(400, b'{"details":"bad service or scope"}')
            return self.send(200, b'{"token":"%s","expires_in":300}' % TOKEN.encode())
        if not u.path.startswith("/v2/"):
            return self.send(404)
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            repo = u.path[4:].rsplit("/", 2)[0]
            chal = ('Bearer realm="http://127.0.0.1:%d/token",service="front.test",'
                    'scope="repository:%s:pull"' % (state["front"], repo))
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED",'
                             b'"message":"authentication required"}]}',
                             [("WWW-Authenticate", chal)])
        if "/blobs/" in u.path:
            if state["flaky"] > 0:
                state["flaky"] -= 1
                return self.send(503, b"busy")
            return self.send(307, b"", [("Location", "http://127.0.0.1:%d/cdn%s?sig=1"
                                          % (state["cdn"], u.path))])
        # every Accept header (a client may send one per media type)
        accept = ", ".join(self.headers.get_all("Accept") or [])
        hs = {"Accept": accept} if accept else {}
        status, headers, body = fetch(u.path, hs)
        keep = [(k, v) for k, v in headers
                if k.lower() in ("content-type", "docker-content-digest")]
        self.send(status, body, keep)


class Cdn(Quiet):
    def do_GET(self):
        if "Authorization" in self.headers:
            return self.send(400, b"an Authorization header reached the CDN")
        u = urllib.parse.urlsplit(self.path)
        if slow:
            time.sleep(slow)
        if not u.path.startswith("/cdn/v2/"):
            return self.send(404)
        hs = {}
        if self.headers.get("Range") and not no_range:
            hs["Range"] = self.headers["Range"]
        status, headers, body = fetch(u.path[4:], hs)
        if corrupt and body:
            body = bytes([body[0] ^ 1]) + body[1:]
        keep = [("Content-Type", "application/octet-stream")] + \
            [(k, v) for k, v in headers if k.lower() == "content-range"]
        if state["cut"] > 0 and status == 200 and len(body) > 4096:
            state["cut"] -= 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if rate:
            return self.send_slowly(status, body, keep)
        self.send(status, body, keep)

    def send_slowly(self, status, body, headers):
        with busy_lock:
            busy["now"] += 1
            if busy["now"] > 1:
                sys.stderr.write("cdn busy %d\n" % busy["now"])
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = max(1, int(rate / 20))
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(len(body[i:i + step]) / rate)
        finally:
            with busy_lock:
                busy["now"] -= 1


def serve(handler, name):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    s.name = name
    s.daemon_threads = True
    return s


front = serve(Front, "front")
cdn = serve(Cdn, "cdn")
state["front"] = front.server_address[1]
state["cdn"] = cdn.server_address[1]
threading.Thread(target=cdn.serve_forever, daemon=True).start()
with open(port_file + ".tmp", "w") as f:
    f.write("%d %d\n" % (state["front"], state["cdn"]))
import os
os.rename(port_file + ".tmp", port_file)
front.serve_forever()
