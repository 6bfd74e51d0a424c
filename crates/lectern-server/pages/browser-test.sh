#!/usr/bin/env bash
# Makes a demo campus (1,500 staff, two study units) in a fresh SQLite data
# directory, starts `lectern serve` on it, and runs browser-test.mjs: each
# page in headless Chromium with the demo's tokens, against the API.
# Screenshots go to SCREENSHOTS (default target/screenshots/pages).
# DEMO_DATA names the data directory of a demo campus made before (e.g. the
# full one of `lectern demo`) to test instead, left as it was found but for
# the dispute, the report and the flag review the test files. Needs
# the `lectern` binary (LECTERN_BIN, default target/debug/lectern),
# Node.js with `npm ci` done here, Debian's chromium and a CJK font
# (fonts-noto-cjk) so that the Chinese is drawn.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${LECTERN_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/lectern}"
shots="${SCREENSHOTS:-${CARGO_TARGET_DIR:-$root/target}/screenshots/pages}"
[ -x "$bin" ] || { echo "no lectern binary at $bin: cargo build -p lectern-server"; exit 1; }
if [ -n "${DEMO_DATA:-}" ]; then
  data="$DEMO_DATA"
  # (Only the server, and only once started: `kill 0` would be our own group.)
  trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
else
  data="$(mktemp -d)"
  trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; rm -rf "$data"' EXIT
  start=$(date +%s)
  LECTERN_LOG=warn "$bin" demo --staff 1500 --study-units 2 --no-serve --data-dir "$data" >"$data/demo.out" 2>&1 \
    || { cat "$data/demo.out"; exit 1; }
  echo "demo campus made in $(( $(date +%s) - start )) s"
fi
# shellcheck source=../serve-for-browser-test.sh
. "$here/../serve-for-browser-test.sh"
serve_for_test "$bin" "$data"
mkdir -p "$shots"
node "$here/browser-test.mjs" "$url" "$data/demo-tokens" "$shots"
