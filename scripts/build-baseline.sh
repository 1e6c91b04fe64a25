#!/usr/bin/env bash
# Builds EmendBench at an earlier commit in a folder of its own (.build-baseline/COMMIT, ignored by git), so that
# `make bench BASELINE=COMMIT` can time it side by side with the current code in one run. Prints the binary's path.
# Usage: scripts/build-baseline.sh COMMIT
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:?usage: build-baseline.sh COMMIT}
dir=$root/.build-baseline/$commit
if [ ! -d "$dir/.git" ]; then
  git clone -q "$root" "$dir"
fi
git -C "$dir" checkout -q "$commit"
(cd "$dir" && swift build -c release --product EmendBench >&2)
echo "$dir/.build/release/EmendBench"
