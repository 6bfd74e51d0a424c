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
# (Only the server, and only once started: `kill 0` would be our own group.)
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$data"' EXIT
[ -x "$bin" ] || { echo "no lectern binary at $bin: cargo build -p lectern-server"; exit 1; }

token="$("$bin" token create --role administrator --label browser-test --data-dir "$data" 2>/dev/null)"
# shellcheck source=../serve-for-browser-test.sh
. "$here/../serve-for-browser-test.sh"
serve_for_test "$bin" "$data"
node "$here/browser-test.mjs" "$url" "$token"
