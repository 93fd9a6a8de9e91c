#!/usr/bin/env python3
"""A minimal Replicate API stand-in for load tests: starts every prediction, fast, records nothing;
serves a tiny JPEG at /output/<name>.jpg as a prediction's output."""
import http.server
import itertools
import json
import socketserver
import sys

IDS = itertools.count(1)
# Enough of a JPEG for what we check of an output (its signature); nobody decodes it.
JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + b"\0" * 252 + bytes([0xFF, 0xD9])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one write: written apart, Nagle and the client's delayed ACK add 40 ms.
    wbufsize = 1 << 16

    def log_message(self, *args):
        pass

    def answer(self, status, job):
        out = json.dumps(job).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)) or 0)
        self.answer(201, {"id": f"bench{next(IDS)}", "status": "starting"})

    def do_GET(self):
        if self.path.startswith("/output/"):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            self.wfile.write(JPEG)
            return
        self.answer(200, {"id": self.path.rsplit("/", 1)[-1], "status": "processing"})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
