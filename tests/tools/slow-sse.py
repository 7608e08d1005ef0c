#!/usr/bin/env python3
"""A reader that does not read: connect to URL's event stream with a tiny
receive buffer, send the request, wait until the file GO exists, then read
for at most SECONDS (until a "resync" event, which ends what a reader that
fell behind is owed, or the stream's end) and write everything received
to OUT.

    slow-sse.py HOST PORT PATH TOKEN GO SECONDS OUT
"""
import os
import socket
import sys
import time

host, port, path, token, go, seconds, out = sys.argv[1:8]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect((host, int(port)))
s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
           "Accept: text/event-stream\r\n\r\n" % (path, host, token)).encode())
open(out + ".connected", "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
s.settimeout(0.5)
data = b""
end = time.time() + float(seconds)
while time.time() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    if not b:
        break
    data += b
    if b"\nevent: resync\n" in data or data.startswith(b"event: resync\n"):
        break
open(out, "wb").write(data)
