#!/usr/bin/env bash
# Benchmarks of docs/benchmarks.md: cold start, peak memory and size of each function binary beside a
# hello-world lambda_runtime binary, then the hot path of `dream-photo serve` under wrk.
# Needs: release builds (built here), python3, wrk (apt-get install wrk), PostgreSQL server binaries.
# SKIP_COLD=1 leaves out the cold starts, SKIP_LOAD=1 the wrk load (the round-trip counts stay;
# PROFILE=debug counts them on a debug build, COUNTS="generation album" only those kinds);
# .ci/bench/compare.sh is the side-by-side load against the original stack.
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=.ci/bench
runs=${RUNS:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null; }
if [ "${PROFILE:-release}" = debug ]; then
  # Round trips only (SKIP_COLD=1 SKIP_LOAD=1): they do not depend on the optimisation level.
  cargo build -p dream-photo
elif [ -n "${SKIP_COLD:-}" ]; then
  cargo build --release -p dream-photo
else
  cargo build --release -p telegram-webhook -p api -p replicate-webhook -p training-worker -p dream-photo
  cargo build --release --manifest-path "$bench/hello-lambda/Cargo.toml"
fi
rel=$CARGO_TARGET_DIR/${PROFILE:-release}

[ -n "${SKIP_COLD:-}" ] || {
echo "== cold start (exec -> first /next), $runs runs each; peak RSS after one invocation"
env -i PATH="$PATH" HOME="$HOME" \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_LOG_STREAM_NAME=bench AWS_LAMBDA_LOG_GROUP_NAME=bench RUST_LOG=warn \
  DATABASE_URL='postgres://bench@127.0.0.1:1/bench' TELEGRAM_BOT_TOKEN='123:abc' \
  TELEGRAM_WEBHOOK_SECRET=bench-secret-0123456789abcdef0123456789 REPLICATE_API_TOKEN=r8_bench \
  REPLICATE_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  python3 "$bench/lambda_emulator.py" "$runs" \
    hello-world="$rel/hello-lambda:$bench/sqs_event.json" \
    telegram-webhook="$rel/telegram-webhook:$bench/webhook_event.json" \
    api="$rel/api:$bench/http_event.json" \
    replicate-webhook="$rel/replicate-webhook:$bench/replicate_event.json" \
    training-worker="$rel/training-worker:$bench/sqs_event.json"
echo "== the deployed environment: an SQS queue, TLS and IAM auth to the database configured"
env -i PATH="$PATH" HOME="$HOME" AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_LOG_STREAM_NAME=bench AWS_LAMBDA_LOG_GROUP_NAME=bench RUST_LOG=warn \
  AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
  TRAINING_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/bench \
  DATABASE_URL='postgres://bench@127.0.0.1:1/bench?sslmode=require' DATABASE_IAM_AUTH=true \
  TELEGRAM_BOT_TOKEN='123:abc' TELEGRAM_WEBHOOK_SECRET=bench-secret-0123456789abcdef0123456789 REPLICATE_API_TOKEN=r8_bench \
  REPLICATE_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  python3 "$bench/lambda_emulator.py" "$runs" \
    telegram-webhook-deployed="$rel/telegram-webhook:$bench/webhook_event.json" \
    api-deployed="$rel/api:$bench/http_event.json" \
    training-worker-deployed="$rel/training-worker:$bench/sqs_event.json"
}

echo "== hot path on dream-photo serve (release), real Postgres, fake Bot API and Replicate"
work=$(mktemp -d /tmp/dream-photo-bench.XXXX)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tg_port=$(free_port); rep_port=$(free_port); port=$(free_port); counted_port=$(free_port)
pg_port=$(free_port); proxy_port=$(free_port); control_port=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; sleep 3; rm -rf "$work"' EXIT
python3 "$bench/fake_telegram.py" "$tg_port" & pids+=($!)
python3 "$bench/fake_replicate.py" "$rep_port" & pids+=($!)
export TELEGRAM_BOT_TOKEN='123:abc' TELEGRAM_WEBHOOK_SECRET=bench-secret-0123456789abcdef0123456789 TELEGRAM_API_URL="http://127.0.0.1:$tg_port"
export REPLICATE_API_TOKEN=r8_bench REPLICATE_API_URL="http://127.0.0.1:$rep_port/v1"
export REPLICATE_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
export PUBLIC_URL=https://bench.example.com ADMIN_IDS=424242 RUST_LOG=warn
unset DATABASE_URL
# The measured instance: its own Postgres cluster, 8 pooled connections (serve's default).
(cd "$work" && exec "$rel/dream-photo" serve --port "$port" --pg-port "$pg_port" --data-dir "$work/pg") & pids+=($!)
wait_up() { until curl -sf "http://127.0.0.1:$1/health" >/dev/null; do sleep 0.3; done; }
wait_up "$port"
# The counted instance: the same database through a proxy that counts statements and round trips,
# one pooled connection (as a Lambda has).
python3 "$bench/pg_count_proxy.py" "$proxy_port" "$pg_port" "$control_port" & pids+=($!)
sleep 0.5
(cd "$work" && DATABASE_URL="postgres://postgres@127.0.0.1:$proxy_port/dream_photo" DATABASE_POOL_SIZE=1 \
  exec "$rel/dream-photo" serve --port "$counted_port") & pids+=($!)
wait_up "$counted_port"

url=http://127.0.0.1:$port
psql_cmd=(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d dream_photo)
admin=$("$rel/dream-photo" init-data --user 424242 --first-name Admin)
users=${BENCH_USERS:-2000}
for i in $(seq 1 "$users"); do "$rel/dream-photo" init-data --user $((500000 + i)); done > "$work/auth.txt"
model_id=$(python3 "$bench/hot_path.py" setup "$url" "$work/auth.txt" "$admin" "${psql_cmd[@]}")

echo "-- database work per request (sequential, through the counting proxy)"
counted=http://127.0.0.1:$counted_port control=http://127.0.0.1:$control_port
# COUNTS="generation album" counts only those kinds.
want() { [ -z "${COUNTS:-}" ] || [[ " $COUNTS " == *" $1 "* ]]; }
! want start-new || BASE=800000000 python3 "$bench/hot_path.py" count "$counted" "$control" start-new 200
! want start || BASE=810000000 python3 "$bench/hot_path.py" count "$counted" "$control" start 200
! want help || BASE=820000000 python3 "$bench/hot_path.py" count "$counted" "$control" help 200
! want models || python3 "$bench/hot_path.py" count "$counted" "$control" models 200 "$admin"
! want generation || python3 "$bench/hot_path.py" count "$counted" "$control" generation 200 "$work/auth.txt" "$model_id"
! want health || python3 "$bench/hot_path.py" count "$counted" "$control" health 200
# A Replicate webhook reporting a succeeded prediction: the album sent, the generation settled.
! want album || python3 "$bench/hot_path.py" count "$counted" "$control" album 200 "$work/auth.txt" "$model_id" "$url" "${psql_cmd[@]}"

[ -z "${SKIP_LOAD:-}" ] || exit 0
echo "-- throughput and latency: wrk, 2 threads, ${CONNECTIONS:-16} connections, ${DURATION:-10s} each"
load() { # name, then wrk arguments
  local name=$1; shift
  echo "-- $name"
  wrk -t2 -c"${CONNECTIONS:-16}" -d"${DURATION:-10s}" --latency "$@" \
    | grep -E "Requests/sec|  50%|  90%|  99%|Non-2xx|Socket errors" || true
}
BASE=100000000 TEXT=/start SECRET=bench-secret-0123456789abcdef0123456789 load "POST /telegram/webhook: /start" -s "$bench/update.lua" "$url"
BASE=200000000 TEXT=/help SECRET=bench-secret-0123456789abcdef0123456789 load "POST /telegram/webhook: /help" -s "$bench/update.lua" "$url"
load "GET /api/models" -H "Authorization: $admin" "$url/api/models"
AUTH_FILE=$work/auth.txt MODEL_ID=$model_id \
  load "POST /api/generations" -s "$bench/generate.lua" "$url"
load "GET /health" "$url/health"

echo "== reply in the webhook response vs through the Bot API (debug build, in-process)"
cargo test -q -p telegram-webhook --test it reply_in_body -- --ignored --nocapture 2>&1 | grep -E "^reply"
