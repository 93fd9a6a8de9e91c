#!/usr/bin/env bash
# Side by side, in one run: the original system's stack (aiogram 3 + FastAPI + asyncpg, pool of 10, from
# ../shared/bench/python-reference, in a virtualenv made here) and `dream-photo serve` (release,
# DATABASE_POOL_SIZE=10), on one PostgreSQL cluster (a database each), against the same fake Bot API and
# fake Replicate (nginx: fixed answers, so neither stack waits on a fake). The same wrk load hits both,
# alternating, and one table of ratios comes out, with the database's own ceiling for each path's
# statements (pgbench). docs/benchmarks.md shows the result.
#
# Needs: python3 (with venv), the PostgreSQL server binaries and pgbench, wrk and nginx (installed here
# from Debian's packages when missing). DURATION (10s), CONNECTIONS (32), ROUNDS (2), BENCH_USERS (6000).
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=$PWD/.ci/bench
reference=$(cd "${PYTHON_REFERENCE:-../shared/bench/python-reference}" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v pgbench >/dev/null || missing+=(postgresql-client)
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
nginx=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release -p dream-photo
rel=$CARGO_TARGET_DIR/release
venv=${VENV:-$CARGO_TARGET_DIR/python-reference-venv}
if [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$reference/requirements.txt"
fi

work=$(mktemp -d /tmp/dream-photo-compare.XXXX)
export WORK=$work
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tg_port=$(free_port); rep_port=$(free_port); rust_port=$(free_port); python_port=$(free_port); pg_port=$(free_port)
pids=()
# Stopped last started first: the reference before the database it uses.
stop() { for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; sleep 0.5; done; sleep 3; rm -rf "$work"; }
trap stop EXIT

sed -e "s|WORK|$work|g" -e "s|TELEGRAM_PORT|$tg_port|" -e "s|REPLICATE_PORT|$rep_port|" \
  "$bench/fakes.nginx.conf" > "$work/nginx.conf"
"$nginx" -p "$work" -c "$work/nginx.conf" & pids+=($!)

token='123:abc' secret=bench-secret-0123456789abcdef0123456789
export TELEGRAM_BOT_TOKEN=$token TELEGRAM_WEBHOOK_SECRET=$secret TELEGRAM_API_URL="http://127.0.0.1:$tg_port"
export REPLICATE_API_TOKEN=r8_bench REPLICATE_API_URL="http://127.0.0.1:$rep_port/v1"
export REPLICATE_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
export PUBLIC_URL=https://bench.example.com ADMIN_IDS=424242 RUST_LOG=warn
unset DATABASE_URL
wait_up() { until curl -sf "http://127.0.0.1:$1/health" >/dev/null; do sleep 0.3; done; }

# Ours, with its own cluster; the reference gets a database of its own in that cluster.
(cd "$work" && DATABASE_POOL_SIZE=10 exec "$rel/dream-photo" serve --port "$rust_port" --pg-port "$pg_port" \
  --data-dir "$work/pg") & pids+=($!)
wait_up "$rust_port"
psql_rust=(psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d dream_photo)
psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE python_reference'
psql_python=(psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d python_reference)
(cd "$reference" && DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/python_reference" \
  exec "$venv/bin/uvicorn" app:app --port "$python_port" --workers 1 --loop uvloop --no-access-log \
  --log-level warning) & pids+=($!)
wait_up "$python_port"

echo "== setup: ${BENCH_USERS:=6000} Mini App users with tokens on each side, a model to generate with"
admin=$("$rel/dream-photo" init-data --user 424242 --first-name Admin)
for i in $(seq 1 "$BENCH_USERS"); do "$rel/dream-photo" init-data --user $((500000 + i)); done > "$work/auth.txt"
model_id=$(python3 "$bench/hot_path.py" setup "http://127.0.0.1:$rust_port" "$work/auth.txt" "$admin" "${psql_rust[@]}")
# The reference: the same users, each with its own ready model (its generation route wants the caller's
# model), and the admin with one model to list, as on our side.
awk '{ printf "%s\t%d\n", $0, 500000 + NR }' "$work/auth.txt" > "$work/auth-python.txt"
"${psql_python[@]}" <<SQL
INSERT INTO users (user_id, first_name, tokens_left) VALUES (424242, 'Admin', 0);
INSERT INTO users (user_id, first_name, tokens_left)
  SELECT 500000 + i, 'U', 1000000 FROM generate_series(1, $BENCH_USERS) AS i;
INSERT INTO models (model_id, user_id, name, trigger_word, status)
  SELECT 500000 + i, 500000 + i, 'Bench', 'TOK', 'ready' FROM generate_series(1, $BENCH_USERS) AS i;
INSERT INTO models (model_id, user_id, name, trigger_word, status) VALUES (424242, 424242, 'Bench', 'TOK', 'ready');
SQL
# The 500 users of the "known user" updates meet both bots once.
for port in "$rust_port" "$python_port"; do
  TEXT=/start SECRET=$secret BASE=100000000 wrk -t1 -c4 -d2s -s "$bench/update.lua" \
    "http://127.0.0.1:$port/telegram/webhook" >/dev/null
done
"${psql_rust[@]}" -c 'VACUUM ANALYZE'
"${psql_python[@]}" -c 'VACUUM ANALYZE'

echo "== load"
ADMIN_AUTH=$admin MODEL_ID=$model_id SECRET=$secret BENCH_USERS=$BENCH_USERS \
  python3 "$bench/compare.py" "http://127.0.0.1:$python_port" "http://127.0.0.1:$rust_port" "${psql_rust[@]}"
echo
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
