#!/usr/bin/env python3
"""A TCP proxy in front of PostgreSQL that counts what clients ask of it.

- statements: extended-protocol Syncs plus simple-protocol Queries (one per statement that
  tokio-postgres runs, BEGIN/COMMIT included);
- round trips: bursts of client messages sent after the server last answered (queries that are
  pipelined, written before the first answer arrives, make one burst).

Counting starts after a connection's startup. `GET /` on the control port answers the totals as JSON.
With PG_COUNT_TRACE=FILE, each round trip's statements are appended to FILE (to see what they are).

usage: pg_count_proxy.py LISTEN_PORT PG_PORT CONTROL_PORT
"""
import asyncio
import json
import os
import struct
import sys

TRACE = open(os.environ["PG_COUNT_TRACE"], "a", buffering=1) if os.environ.get("PG_COUNT_TRACE") else None

TOTALS = {"statements": 0, "round_trips": 0, "connections": 0}
SSL_OR_GSS = (80877103, 80877104)


async def pump(reader, writer, on_chunk):
    """Forwards bytes one way until the connection closes, showing each chunk to `on_chunk`."""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        writer.write(chunk)
        await writer.drain()
        on_chunk(chunk)


def client_counter(conn):
    """Client -> server: skip the untyped startup messages, then count typed ones."""
    state = {"buffer": b"", "started": False}

    def on_chunk(chunk):
        state["buffer"] += chunk
        while True:
            buffer = state["buffer"]
            if not state["started"]:
                if len(buffer) < 8:
                    return
                length, code = struct.unpack("!II", buffer[:8])
                if len(buffer) < length:
                    return
                state["buffer"] = buffer[length:]
                # The StartupMessage (after an optional SSL/GSS request); authentication is typed.
                state["started"] = code not in SSL_OR_GSS
                continue
            if len(buffer) < 5:
                return
            kind = buffer[:1]
            length = struct.unpack("!I", buffer[1:5])[0]
            if len(buffer) < 1 + length:
                return
            state["buffer"] = buffer[1 + length:]
            if conn["ready"]:
                if conn["answered"]:
                    TOTALS["round_trips"] += 1
                    conn["answered"] = False
                    if TRACE:
                        TRACE.write("-- round trip %d (connection %d)\n" % (TOTALS["round_trips"], conn["id"]))
                if kind in (b"S", b"Q"):
                    TOTALS["statements"] += 1
                if TRACE:
                    trace(conn, kind, buffer[5:1 + length])

    return on_chunk


def trace(conn, kind, body):
    """Writes a statement's text when it is bound (as it was parsed) or sent as a simple Query."""
    if kind == b"P":
        name, query = body.split(b"\0")[:2]
        conn["prepared"][name] = query
        return
    if kind == b"B":
        query = conn["prepared"].get(body.split(b"\0")[1], b"?")
    elif kind == b"Q":
        query = body.rstrip(b"\0")
    else:
        return
    TRACE.write("   %s\n" % " ".join(query.decode(errors="replace").split())[:160])


def server_watcher(conn):
    def on_chunk(chunk):
        # The first ReadyForQuery ends the startup; any answer ends a round trip.
        if not conn["ready"] and b"Z\x00\x00\x00\x05" in chunk:
            conn["ready"] = True
        conn["answered"] = True

    return on_chunk


async def handle(client_reader, client_writer, pg_port):
    server_reader, server_writer = await asyncio.open_connection("127.0.0.1", pg_port)
    TOTALS["connections"] += 1
    conn = {"ready": False, "answered": True, "id": TOTALS["connections"], "prepared": {}}
    tasks = [
        asyncio.create_task(pump(client_reader, server_writer, client_counter(conn))),
        asyncio.create_task(pump(server_reader, client_writer, server_watcher(conn))),
    ]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    client_writer.close()
    server_writer.close()


async def control(reader, writer):
    await reader.read(4096)
    body = json.dumps(TOTALS).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


async def main():
    listen, pg_port, control_port = map(int, sys.argv[1:4])
    await asyncio.start_server(lambda r, w: handle(r, w, pg_port), "127.0.0.1", listen)
    await asyncio.start_server(control, "127.0.0.1", control_port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
