#!/usr/bin/env bash
# By hand, not part of `make test` (that runs StoreCrashTests on a tiny model): the edit store's crash check on the
# default model. Two stores get the same edits (4 batches of 2 CounterFact records, ENCORE); the second run is
# killed with SIGKILL inside a tensor write, inside a journal commit and inside a checkpoint write
# (EMEND_STORE_CRASH_AT), then resumed. The weights and state SHA-256 of both stores must match, and verify must pass.
#
#   scripts/store-crash-check.sh [WORKDIR]      (default: a temporary folder; about 5 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
R="${REQUESTS:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
cd "$work"
rm -rf clean crashed
"$E" store init clean --model smollm2 --checkpoint-every 3 >/dev/null
"$E" store init crashed --model smollm2 --checkpoint-every 3 >/dev/null
args=(--model smollm2 --method encore --requests "$R" --limit 8 --batch-size 2)
"$E" edit --store clean "${args[@]}" 2>/dev/null | tail -1
for point in tensor-write:2 journal-commit:1 checkpoint-write:1; do
  rc=0; EMEND_STORE_CRASH_AT=$point "$E" edit --store crashed "${args[@]}" >/dev/null 2>&1 || rc=$?
  echo "killed at $point (exit $rc); $("$E" store log crashed | head -1)"
done
"$E" edit --store crashed "${args[@]}" 2>/dev/null | tail -1
a=$("$E" store show clean 4 | grep "weights sha"); b=$("$E" store show crashed 4 | grep "weights sha")
echo "clean:   $a"; echo "crashed: $b"
[ "$a" = "$b" ] || { echo "store-crash-check: MISMATCH"; exit 1; }
"$E" store verify crashed | tail -1
echo "store-crash-check: ok"
