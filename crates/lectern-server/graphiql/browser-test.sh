#!/usr/bin/env bash
# Starts `lectern serve` on a fresh SQLite data directory, makes an
# administrator token, and runs browser-test.mjs against it. Needs the
# `lectern` binary (LECTERN_BIN, default target/debug/lectern), Node.js with
# `npm ci` done here, and Debian's chromium.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${LECTERN_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/lectern}"
data="$(mktemp -d)"
log="$data/serve.log"
# (Only the server, and only once started: `kill 0` would be our own group.)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$data"' EXIT
[ -x "$bin" ] || { echo "no lectern binary at $bin: cargo build -p lectern-server"; exit 1; }

token="$("$bin" token create --role administrator --label browser-test --data-dir "$data" 2>/dev/null)"
LECTERN_LOG=warn "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" 2>"$log" &
pid=$!
# The server prints its address once it listens.
for _ in $(seq 1 100); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -n1 || true)"
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
node "$here/browser-test.mjs" "$url" "$token"
