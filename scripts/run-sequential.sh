#!/usr/bin/env bash
# Starts or resumes a long sequential run outside the work tree, so that it survives a new checkout and a machine
# handed on can resume it: the run directory is $EMEND_HOME/runs/NAME, and the binary it runs is a copy of this
# checkout's `emend` (with its presets) under $EMEND_HOME/bin/COMMIT, so rebuilding the checkout never touches it.
# Usage: scripts/run-sequential.sh NAME [emend bench sequential options...]
#   scripts/run-sequential.sh encore-10000 --method encore --edits 10000 --batch 100 --downstream-every 1000 --stop-after 20
# Commit only the run's results.json and report.html (copied into results/sequential/NAME by --publish).
# scripts/run-sequential.sh --publish NAME     copies results.json and report.html into results/sequential/NAME
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
home=${EMEND_HOME:-$HOME/.cache/emend}
if [ "${1:-}" = "--publish" ]; then
  name=${2:?usage: run-sequential.sh --publish NAME}
  mkdir -p "$root/results/sequential/$name"
  cp "$home/runs/$name/results.json" "$home/runs/$name/report.html" "$root/results/sequential/$name/"
  echo "copied $home/runs/$name/{results.json,report.html} to results/sequential/$name/"
  exit 0
fi
name=${1:?usage: run-sequential.sh NAME [options...]}
shift
commit=$(git -C "$root" rev-parse --short HEAD)
bin=$home/bin/$commit
if [ ! -x "$bin/emend" ]; then
  release=$(cd "$root" && swift build -c release --show-bin-path)
  # A fresh build unless `make build`/`make test` already left this commit's binary there.
  [ -x "$release/emend" ] && [ -z "$(git -C "$root" status --porcelain -- Sources Package.swift)" ] \
    && [ "$release/emend" -nt "$root/.git/HEAD" ] || (cd "$root" && swift build -c release --product emend >&2)
  mkdir -p "$bin.part"
  cp "$release/emend" "$bin.part/"
  cp -R "$release"/*.resources "$bin.part/"
  rm -rf "$bin" && mv "$bin.part" "$bin"
fi
data=$root/../shared/data
mkdir -p "$home/runs"
exec "$bin/emend" bench sequential --records "$data/counterfact_easyedit/counterfact-edit.json" --downstream-data "$data" \
  --out "$home/runs/$name" "$@"
