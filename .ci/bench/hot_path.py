#!/usr/bin/env python3
"""Setup and database round-trip counts for the hot-path benchmark (run by run.sh).

  hot_path.py setup URL AUTH_FILE ADMIN_AUTH PSQL...
      registers every user of AUTH_FILE (GET /api/me), gives each 1,000,000 tokens, adds a
      ready model and makes it a system model; prints its id.
  hot_path.py count URL CONTROL_URL KIND N [ARG...]
      sends N requests of KIND one after another to URL and prints the statements and round trips
      per request that the counting proxy (pg_count_proxy.py) saw.
      KINDS: start-new, start, help (SECRET, BASE in the environment), models AUTH,
             generation AUTH_FILE MODEL_ID, health,
             album AUTH_FILE MODEL_ID UNCOUNTED_URL PSQL...: each request is Replicate's signed
             webhook (REPLICATE_WEBHOOK_SECRET) reporting that a prediction succeeded, with one
             image on the fake Replicate (REPLICATE_API_URL); the generations are started beforehand
             on UNCOUNTED_URL, so only their delivery is counted
"""
import base64
import hashlib
import hmac
import json
import time
import os
import subprocess
import sys
import urllib.request


def call(method, url, headers=None, body=None, ok=(200, 201, 202, 204)):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status not in ok:
            raise RuntimeError(f"{method} {url}: {response.status}")
        return json.loads(response.read() or b"null")


def setup(url, auth_file, admin, psql):
    call("GET", f"{url}/api/me", {"Authorization": admin})
    ids = []
    for line in open(auth_file):
        me = call("GET", f"{url}/api/me", {"Authorization": line.strip()})
        ids.append(me.get("profile", me)["id"])
    # Straight into the table: an admin's grants are capped per day, and these are many users.
    subprocess.check_call(psql + ["-c", "UPDATE users SET tokens_left = 1000000 WHERE id = ANY('{%s}'::bigint[])"
                                  % ",".join(map(str, ids))], stdout=subprocess.DEVNULL)
    model_id = subprocess.check_output(psql + [
        "-Atc",
        "INSERT INTO models (user_id, name, trigger_word, status, replicate_model, version, finished_at, shared_consent_at)"
        " VALUES (424242, 'Bench', 'TOK', 'ready', 'bench/loras', 'bench/loras:abc123', now(), now())"
        " RETURNING id"], text=True).split()[0]
    call("POST", f"{url}/api/admin/models/{model_id}/system", {"Authorization": admin}, {"system": True})
    print(model_id)


def update(update_id, user_id, text):
    return {"update_id": update_id,
            "message": {"message_id": update_id, "date": 1764000000,
                        "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"},
                        "chat": {"id": user_id, "type": "private", "first_name": "U"},
                        "text": text,
                        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}}


def signed(body):
    """Headers of a Standard Webhooks signature of `body`, as Replicate signs its webhooks."""
    key = base64.b64decode(os.environ["REPLICATE_WEBHOOK_SECRET"].removeprefix("whsec_"))
    webhook_id, timestamp = f"msg_{time.monotonic_ns()}", str(int(time.time()))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(), "Content-Type": "application/json"}


def predictions(n, auth, model_id, url, psql):
    """Starts n generations on the uncounted instance; their prediction ids, in order."""
    ids = []
    for i in range(n):
        made = call("POST", f"{url}/api/generations", {"Authorization": auth[(i + len(auth) // 2) % len(auth)]},
                    {"model_id": model_id, "prompt": "a portrait in the sun", "count": 1})
        ids.append(made["id"])
    rows = subprocess.check_output(psql + [
        "-Atc", "SELECT id, replicate_prediction_id FROM generations WHERE id = ANY('{%s}'::bigint[])"
        % ",".join(map(str, ids))], text=True).split()
    found = dict(row.split("|") for row in rows)
    return [found[str(i)] for i in ids]


def count(url, control, kind, n, args):
    secret = {"X-Telegram-Bot-Api-Secret-Token": os.environ.get("SECRET", os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""))}
    base = int(os.environ.get("BASE", "900000000"))
    auth = [line.strip() for line in open(args[0])] if kind in ("generation", "album") else []
    started_jobs = predictions(n + 1, auth, int(args[1]), args[2], args[3:]) if kind == "album" else []
    output = os.environ.get("REPLICATE_API_URL", "").removesuffix("/v1") + "/output/1.jpg"

    def one(i):
        if kind == "start-new":
            call("POST", f"{url}/telegram/webhook", secret, update(base + i, 7000000 + base // 1000 + i, "/start"))
        elif kind in ("start", "help"):
            call("POST", f"{url}/telegram/webhook", secret, update(base + i, 100001, "/" + kind))
        elif kind == "models":
            call("GET", f"{url}/api/models", {"Authorization": args[0]})
        elif kind == "generation":
            call("POST", f"{url}/api/generations", {"Authorization": auth[i % len(auth)]},
                 {"model_id": int(args[1]), "prompt": "a portrait in the rain", "count": 1})
        elif kind == "album":
            body = json.dumps({"id": started_jobs[i], "status": "succeeded", "output": [output],
                               "metrics": {"predict_time": 2.5}}).encode()
            request = urllib.request.Request(f"{url}/replicate/webhook", data=body, method="POST",
                                             headers=signed(body))
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
                if answer.get("result") != "handled":
                    raise RuntimeError(f"the webhook answered {answer}")
        elif kind == "health":
            call("GET", f"{url}/health")
        else:
            raise SystemExit(f"unknown kind {kind}")

    one(n)  # warm up (the user exists, the connection is open)
    before = call("GET", control)
    started = time.monotonic()
    for i in range(n):
        one(i)
    elapsed = time.monotonic() - started
    after = call("GET", control)
    statements = (after["statements"] - before["statements"]) / n
    trips = (after["round_trips"] - before["round_trips"]) / n
    print(f"{kind}: {statements:.2f} statements, {trips:.2f} round trips per request "
          f"({n} requests, {elapsed * 1000 / n:.2f} ms each; new connections: "
          f"{after['connections'] - before['connections']})")
    if kind == "album":
        # Counted only if each did what it is for: delivered, settled, its status message gone.
        psql = args[3:]
        settled = subprocess.check_output(psql + [
            "-Atc", "SELECT count(*) FROM generations g JOIN job_progress p"
            " ON p.kind = 'generation' AND p.subject_id = g.id"
            " WHERE g.status = 'succeeded' AND cardinality(g.telegram_file_ids) = 1 AND p.settled_at IS NOT NULL"
            " AND g.replicate_prediction_id = ANY('{%s}')" % ",".join(started_jobs)], text=True).strip()
        unsettled = subprocess.check_output(psql + [
            "-Atc", "SELECT count(*) FROM effects WHERE state <> 'done'"], text=True).strip()
        print(f"album: {settled} of {n + 1} generations delivered and settled; effects not done: {unsettled}")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        count(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:])
