#!/usr/bin/env bash
# By hand, not part of `make test` (that runs StoreCrashTests on a tiny model): the edit store's crash check on the
# default model. Two stores get the same edits (BATCHES batches of 1 CounterFact record, ENCORE, default 20); the
# second run is killed with SIGKILL KILLS times (default 10): inside tensor writes, journal commits and checkpoint
# writes (EMEND_STORE_CRASH_AT), and at random instants, each time resumed by re-running the same command. The
# weights and state SHA-256 of both stores must match at every version, and verify must pass.
#
#   scripts/store-crash-check.sh [WORKDIR]      (default: a temporary folder; ~10 minutes on 2 idle cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
R="${REQUESTS:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}"
batches="${BATCHES:-20}"; kills="${KILLS:-10}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
cd "$work"
rm -rf clean crashed
"$E" store init clean --model smollm2 --checkpoint-every 3 >/dev/null
"$E" store init crashed --model smollm2 --checkpoint-every 3 >/dev/null
# The preset is pinned to a copy, so a rebuild of the repository during the check cannot change it between runs.
cp "$root/Sources/EmendEditing/Presets/smollm2-135m-encore.json" preset.json
args=(--model smollm2 --method encore --preset "$work/preset.json" --requests "$R" --limit "$batches" --batch-size 1)
"$E" edit --store clean "${args[@]}" 2>/dev/null | tail -1
points=(tensor-write:2 journal-commit:1 checkpoint-write:1 random tensor-write:1 journal-commit:2 random checkpoint-write:1 random journal-commit:3)
RANDOM=7
for ((i = 0; i < kills; i++)); do
  point=${points[$((i % ${#points[@]}))]}
  rc=0
  if [ "$point" = random ]; then
    delay=$((15 + RANDOM % 30))
    "$E" edit --store crashed "${args[@]}" >/dev/null 2>&1 & pid=$!
    sleep "$delay"; kill -KILL "$pid" 2>/dev/null || true; wait "$pid" || rc=$?
    point="random after ${delay}s"
  else
    EMEND_STORE_CRASH_AT=$point "$E" edit --store crashed "${args[@]}" >/dev/null 2>&1 || rc=$?
  fi
  echo "kill $((i + 1)): $point (exit $rc); $("$E" store log crashed | head -1)"
done
"$E" edit --store crashed "${args[@]}" 2>/dev/null | tail -1
for ((v = 1; v <= batches; v++)); do
  a=$("$E" store show clean "$v" | grep "weights sha"); b=$("$E" store show crashed "$v" | grep "weights sha")
  [ "$a" = "$b" ] || { echo "store-crash-check: MISMATCH at version $v"; echo "clean:   $a"; echo "crashed: $b"; exit 1; }
done
echo "versions 1..$batches identical: $("$E" store show crashed "$batches" | grep "weights sha")"
"$E" store verify crashed | tail -1
echo "store-crash-check: ok"
