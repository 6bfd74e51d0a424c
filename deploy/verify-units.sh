#!/usr/bin/env bash
# Checks deploy/systemd/*.service with `systemd-analyze verify` in a scratch
# root (the system's own units, and stand-ins at the binaries' paths, which
# verify requires to be executable). verify exits 0 on unknown keys and bad
# values, so any line it prints fails the check. Prints the hardening
# exposure of each unit too (`systemd-analyze security`, lower is better).
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -r /lib/systemd/system "$root/usr/lib/systemd/"
for bin in lectern lectern-kiosk; do
  printf '#!/bin/sh\n' > "$root/usr/local/bin/$bin"
  chmod +x "$root/usr/local/bin/$bin"
done
cp deploy/systemd/*.service "$root/etc/systemd/system/"

units=()
for unit in deploy/systemd/*.service; do
  units+=("$root/etc/systemd/system/$(basename "$unit")")
done
out=$(systemd-analyze verify --root="$root" "${units[@]}" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"
  echo "systemd-analyze verify found problems in deploy/systemd" >&2
  exit 1
fi
for unit in "${units[@]}"; do
  exposure=$(systemd-analyze security --offline=yes --root="$root" "$unit" 2>/dev/null | tail -1 || true)
  echo "$(basename "$unit"): verified; ${exposure:-exposure not rated}"
done
