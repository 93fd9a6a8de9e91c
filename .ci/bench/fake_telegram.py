#!/usr/bin/env python3
"""A minimal Bot API stand-in for load tests: answers like Telegram, records nothing, fast."""
import http.server
import json
import socketserver
import sys
import time

ME = {"id": 7000000001, "is_bot": True, "first_name": "Bench", "username": "bench_bot",
      "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
      "can_connect_to_business": False, "has_main_web_app": False}


def photo_message(payload, n):
    """A sent photo as Telegram describes it: the sizes it made, each with its file id."""
    return {"message_id": n, "date": int(time.time()),
            "chat": {"id": int(payload.get("chat_id", 1)), "type": "private", "first_name": "U"},
            "from": ME, "photo": [{"file_id": f"bench-photo-{n}", "file_unique_id": f"bench-u{n}",
                                   "width": 1024, "height": 1024, "file_size": 1000}]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one write: written apart, Nagle and the client's delayed ACK add 40 ms.
    wbufsize = 1 << 16

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)) or 0)
        method = self.path.rsplit("/", 1)[-1].lower()
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        if method == "getme":
            result = ME
        elif method in ("sendmessage", "editmessagetext"):
            result = {"message_id": 1, "date": int(time.time()),
                      "chat": {"id": int(payload.get("chat_id", 1)), "type": "private", "first_name": "U"},
                      "from": ME, "text": payload.get("text", "")}
        elif method == "sendphoto":
            result = photo_message(payload, 1)
        elif method == "sendmediagroup":
            result = [photo_message(payload, i + 1) for i in range(len(payload.get("media", [])))]
        else:
            result = True
        out = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
