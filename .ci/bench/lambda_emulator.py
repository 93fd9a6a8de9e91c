#!/usr/bin/env python3
"""Cold start of Lambda binaries through a local Lambda Runtime API.

For each binary: exec it with AWS_LAMBDA_RUNTIME_API pointing here, time from exec to its first
`GET /2018-06-01/runtime/invocation/next` (ready), hand it one event, wait for its response, then read
its peak RSS (VmHWM) and stop it. Repeats N times; prints median and p90 per binary as JSON lines.

usage: lambda_emulator.py RUNS NAME=PATH[:EVENT_JSON_FILE] ...
"""
import http.server
import json
import os
import signal
import socketserver
import statistics
import subprocess
import sys
import threading
import time

EVENT = {"Records": []}


class State:
    ready_at = None
    responded = threading.Event()
    event = b"{}"
    delivered = False


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if State.ready_at is None:
                State.ready_at = time.perf_counter()
            if State.delivered:
                # Keep the runtime waiting (as Lambda does between invocations) until it is stopped.
                time.sleep(30)
                return
            State.delivered = True
            body = State.event
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        if "/response" in self.path or "/error" in self.path:
            State.responded.set()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(path, event, env):
    State.ready_at = None
    State.responded = threading.Event()
    State.delivered = False
    State.event = event
    # A fresh server per run: a request the previous (killed) process left in the listen backlog
    # must not be taken for this one's.
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    start = time.perf_counter()
    proc = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL)
    try:
        if not State.responded.wait(30):
            raise RuntimeError(f"{path} did not answer its first invocation")
        ready_ms = (State.ready_at - start) * 1000
        rss = peak_rss_kb(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        server.shutdown()
        server.server_close()
    return ready_ms, rss


def main():
    runs = int(sys.argv[1])
    env = dict(os.environ)
    for spec in sys.argv[2:]:
        name, rest = spec.split("=", 1)
        path, _, event_file = rest.partition(":")
        event = open(event_file, "rb").read() if event_file else b"{}"
        env["AWS_LAMBDA_FUNCTION_NAME"] = name
        samples, failures = [], 0
        while len(samples) < runs:
            try:
                samples.append(measure(path, event, env))
            except RuntimeError as e:
                failures += 1  # reported, not hidden
                print(f"{name}: {e}", file=sys.stderr)
                if failures > 3:
                    raise
        ready = sorted(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        print(json.dumps({
            "name": name,
            "runs": runs,
            "ready_ms_median": round(statistics.median(ready), 2),
            "ready_ms_p90": round(ready[int(0.9 * (len(ready) - 1))], 2),
            "peak_rss_mb": round(rss / 1024, 1),
            "binary_mb": round(os.path.getsize(path) / 1024 / 1024, 2),
            "failed_runs": failures,
        }), flush=True)


if __name__ == "__main__":
    main()
