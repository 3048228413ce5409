#!/usr/bin/env bash
# `make fuzz`: schemathesis's CLI (`st run`) against a live `claims serve` for FUZZ_MINUTES minutes
# (default 10) — the same checks, statuses and hooks as tests/test_schemathesis.py
# (scripts/schemathesis.toml), but fuzzing and stateful scenarios repeat until the time is spent.
# The server runs on a free port with the demo data in a throwaway CLAIMS_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
MINUTES=${FUZZ_MINUTES:-10}
DATA=$(mktemp -d -t claims-fuzz-XXXXXX)
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export CLAIMS_DATA_DIR="$DATA" CLAIMS_RATE_LIMIT_PER_MINUTE=0 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$BIN/claims" serve --host 127.0.0.1 --port "$PORT" &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

for _ in $(seq 1 180); do
    if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then echo "claims serve exited" >&2; exit 1; fi
    sleep 1
done
curl -fsS "$BASE/readyz" >/dev/null

# A key with every scope (`claims keys create` prints the secret once).
KEY=$("$BIN/claims" keys create --scope read --scope write --scope admin --name fuzz)
HEADERS=(--header "X-API-Key: $KEY")

echo "fuzzing $BASE for $MINUTES minute(s)" >&2
"$BIN/st" --config-file scripts/schemathesis.toml run "$BASE/openapi.json" \
    --max-time "$((MINUTES * 60))" "${HEADERS[@]}"
