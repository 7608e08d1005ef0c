#!/usr/bin/env python3
"""A static file server on 127.0.0.1 for the tests, on any free port:

    static-http.py DIR PORTFILE [FROM=TO ...]

serves DIR, writes its port to PORTFILE once it listens (written whole:
a reader never sees part of it), and answers GET FROM with a 302 to TO.
Logs nothing. Stopped by its pid.
"""
import http.server
import os
import socketserver
import sys

root, portfile = sys.argv[1], sys.argv[2]
moved = dict(a.split("=", 1) for a in sys.argv[3:])
os.chdir(root)


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path in moved:
            self.send_response(302)
            self.send_header("Location", moved[self.path])
            self.end_headers()
            return
        return super().do_GET()


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


s = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
