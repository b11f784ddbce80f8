#!/usr/bin/env bash
# The mixed workload (bench/mixed.rs): USERS users with Zipf-distributed access, 90 % reads
# (chat list, open a chat, the GraphQL sidebar) / 10 % writes (new chat, append a message,
# rename, pin), a closed loop of CONCURRENCY workers; prints per operation count, req/s, p50,
# p99 and errors, and the totals, with the load average before and after.
#
# Usage: bench/mixed.sh [--postgres] [--duration 20s] [--no-build]
#   default     one duet on a fresh SQLite data directory
#   --postgres  two duet instances (ports MIXED_PORT and MIXED_PORT+1) on a fresh database on
#               PostgreSQL (DUET_BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432) and
#               Redis (REDIS_URL, default redis://127.0.0.1:6379), requests alternating between them
#   --no-build  use the binaries in target/release as they are (bench/run.sh builds them first)
#   Tunables (environment): MIXED_PORT (18196), USERS (1000), CHATS (10 per user), MESSAGES (4 per
#   chat), CONCURRENCY (64), WARMUP (2s), ZIPF (1.0), SEED_CONCURRENCY (8).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=20s
BACKEND=sqlite
BUILD=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --postgres) BACKEND=postgres ;;
    --duration) DURATION="$2"; shift ;;
    --no-build) BUILD=0 ;;
    *) echo "usage: bench/mixed.sh [--postgres] [--duration 20s] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done
MIXED_PORT="${MIXED_PORT:-18196}"
if [[ $BUILD == 1 ]]; then
  echo "building the release binary and the mixed-workload driver"
  cargo build --release --quiet --bin duet --example mixed
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export RUST_LOG=warn WEBUI_SECRET_KEY=bench ENABLE_OPENAI_API=false ENABLE_OLLAMA_API=false \
  REQUEST_BODY_LIMIT=67108864
PORTS=("$MIXED_PORT")
if [[ $BACKEND == postgres ]]; then
  PG="${DUET_BENCH_DATABASE_URL:-postgres://root@127.0.0.1:5432}"
  psql -q "$PG/postgres" -c "drop database if exists duet_mixed" -c "create database duet_mixed"
  export DATABASE_URL="$PG/duet_mixed" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
  export REDIS_KEY_PREFIX="duet-mixed-$$"
  PORTS+=("$((MIXED_PORT + 1))")
else
  unset DATABASE_URL REDIS_URL REDIS_KEY_PREFIX
fi

BASES=()
for port in "${PORTS[@]}"; do
  mkdir -p "$WORK/data-$port"
  DATA_DIR="$WORK/data-$port" PORT="$port" target/release/duet migrate >/dev/null
done
for port in "${PORTS[@]}"; do
  DATA_DIR="$WORK/data-$port" PORT="$port" target/release/duet serve & PIDS+=("$!")
  BASES+=(--base "http://127.0.0.1:$port")
done
for port in "${PORTS[@]}"; do
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.02; done
done

DESC="$BACKEND"
[[ $BACKEND == postgres ]] && DESC="two instances on PostgreSQL + Redis"
echo "== mixed workload ($DESC): ${USERS:-1000} users, ${CONCURRENCY:-64} workers, $DURATION"
echo "load before: $(uptime)"
target/release/examples/mixed "${BASES[@]}" --users "${USERS:-1000}" --chats "${CHATS:-10}" \
  --messages "${MESSAGES:-4}" --concurrency "${CONCURRENCY:-64}" --duration "$DURATION" \
  --warmup "${WARMUP:-2s}" --zipf "${ZIPF:-1.0}" --seed-concurrency "${SEED_CONCURRENCY:-8}" \
  | tee "$WORK/out" | grep -v '^OP \|^RESULT '
echo "load after: $(uptime)"
for p in "${PIDS[@]}"; do
  echo "duet pid $p RSS $(awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$p/status")"
done
grep '^OP \|^RESULT ' "$WORK/out"
