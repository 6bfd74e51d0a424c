# Sourced by the browser tests: `serve_for_test BIN DATA_DIR` starts
# `lectern serve` on a free port of 127.0.0.1 with the data directory,
# sets `pid` and `url` once it listens, and fails with its log if it does
# not start. The caller's EXIT trap kills "$pid".
serve_for_test() {
  local bin="$1" data="$2" log="$2/serve.log"
  LECTERN_LOG=warn "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" 2>"$log" &
  pid=$!
  url=""
  # The server prints its address once it listens.
  for _ in $(seq 1 100); do
    url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -n1 || true)"
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.1
  done
  echo "the server did not start:"
  cat "$log"
  return 1
}
