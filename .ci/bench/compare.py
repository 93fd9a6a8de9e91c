#!/usr/bin/env python3
"""The load and the table of the side-by-side benchmark (run by compare.sh).

  compare.py PYTHON_URL RUST_URL PSQL...    (PSQL: the psql command line of our database)

From the environment: WORK (compare.sh's folder: auth files), ADMIN_AUTH (the init data both stacks list
models for), MODEL_ID (our system model), SECRET (the webhook secret), DURATION, CONNECTIONS, ROUNDS.
Each path is loaded with wrk on both stacks in turn, alternating which goes first, ROUNDS times; the table
gives each stack's best round. The database's ceiling for a path is pgbench running that path's statements
(.ci/bench/pgbench/<path>.sql, the SQL our repositories send) on the same cluster.
"""
import os
import re
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ["WORK"]
DURATION = os.environ.get("DURATION", "10s")
CONNECTIONS = os.environ.get("CONNECTIONS", "32")
ROUNDS = int(os.environ.get("ROUNDS", "2"))
SECRET = os.environ["SECRET"]
ADMIN = os.environ["ADMIN_AUTH"]


def wrk(url, args, env):
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", *args, url],
                         env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rate": rate, "p50": percentile(50), "p99": percentile(99),
            "bad": int(bad.group(1)) if bad else 0, "errors": errors.group(0) if errors else ""}


def update_load(text, base, new_users=False):
    env = {"TEXT": text, "SECRET": SECRET, "BASE": str(base)}
    if new_users:
        env["NEW_USERS"] = "1"
    return ["-s", f"{BENCH}/update.lua"], "/telegram/webhook", env


def paths():
    """(name, pgbench script, per stack: (wrk args, url path, env)); update ids never repeat across runs."""
    models = (["-H", f"Authorization: {ADMIN}"], "/api/models", {})
    yield "GET /api/models", "models", {"python": models, "rust": models}
    for name, text, new, script in (("/start, known user", "/start", False, "start_known"),
                                    ("/start, new user", "/start", True, "start_new"),
                                    ("/help", "/help", False, "help")):
        yield (f"POST /telegram/webhook {name}", script,
               {"python": update_load(text, 0, new), "rust": update_load(text, 0, new)})
    yield "POST /api/generations", "generation", {
        "python": (["-s", f"{BENCH}/generate.lua"], "/api/generations", {"AUTH_FILE": f"{WORK}/auth-python.txt"}),
        "rust": (["-s", f"{BENCH}/generate.lua"], "/api/generations",
                 {"AUTH_FILE": f"{WORK}/auth.txt", "MODEL_ID": os.environ["MODEL_ID"]}),
    }
    health = ([], "/health", {})
    yield "GET /health", "health", {"python": health, "rust": health}


def pgbench(psql, script):
    """Requests/s the database alone serves for one request's statements (one pgbench transaction)."""
    path = f"{BENCH}/pgbench/{script}.sql"
    host, port, user, db = (psql[psql.index(flag) + 1] for flag in ("-h", "-p", "-U", "-d"))
    run = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", "5",
                          "-D", f"users={os.environ.get('BENCH_USERS', '6000')}",
                          "-h", host, "-p", port, "-U", user, "-f", path, db],
                         capture_output=True, text=True)
    found = re.search(r"tps = ([\d.]+)", run.stdout)
    if run.returncode != 0 or not found:
        print(f"  pgbench {script}: failed: {run.stderr.strip()[-400:]}", flush=True)
        return None
    return float(found.group(1))


def main():
    python_url, rust_url = sys.argv[1], sys.argv[2]
    psql_rust = sys.argv[3:]
    urls = {"python": python_url, "rust": rust_url}
    base = 300000000
    rows = []
    for name, script, loads in paths():
        best = {}
        for round_ in range(ROUNDS):
            order = ("python", "rust") if round_ % 2 == 0 else ("rust", "python")
            for stack in order:
                args, path, env = loads[stack]
                if "BASE" in env:
                    base += 20000000
                    env = {**env, "BASE": str(base)}
                result = wrk(urls[stack] + path, args, env)
                print(f"  {name} [{stack}, round {round_ + 1}]: {result['rate']:,.0f} req/s, "
                      f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms"
                      + (f", {result['bad']} non-2xx" if result["bad"] else "")
                      + (f", {result['errors']}" if result["errors"] else ""), flush=True)
                if stack not in best or result["rate"] > best[stack]["rate"]:
                    best[stack] = result
        ceiling = pgbench(psql_rust, script)
        rows.append((name, best["python"], best["rust"], ceiling))

    print()
    print(f"wrk 2 threads x {CONNECTIONS} connections, {DURATION} a run, best of {ROUNDS} alternating runs")
    print()
    print("| path | Python req/s | Rust req/s | ratio | Rust p50 / p99 | Python p50 / p99 | database ceiling "
          "(pgbench, same SQL) | Rust / ceiling |")
    print("|---|---|---|---|---|---|---|---|")
    for name, py, rs, ceiling in rows:
        flags = "".join(f" ({r['bad']} non-2xx)" for r in (py, rs) if r["bad"])
        print(f"| `{name}` | {py['rate']:,.0f} | {rs['rate']:,.0f} | **{rs['rate'] / py['rate']:.1f}x** | "
              f"{rs['p50']:.1f} / {rs['p99']:.1f} ms | {py['p50']:.1f} / {py['p99']:.1f} ms | "
              + (f"{ceiling:,.0f} | {rs['rate'] / ceiling:.0%}" if ceiling else "n/a | n/a") + f"{flags} |")


if __name__ == "__main__":
    main()
