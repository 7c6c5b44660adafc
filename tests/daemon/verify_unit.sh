#!/bin/sh
# Runs systemd-analyze verify on the shipped unit, with ExecStart pointed at
# the freshly built daemon. Fails on any warning systemd prints.
set -eu
unit="$1"; binary="$2"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found: install the systemd package" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/sbin/aikerneld|$binary|" "$unit" > "$dir/aikerneld.service"
out=$(systemd-analyze verify "$dir/aikerneld.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi
grep -q '^Type=notify' "$unit"
grep -q '^WatchdogSec=' "$unit"
grep -q '^Delegate=yes' "$unit"
echo "systemd-analyze verify: ok"
