#!/usr/bin/env bash
# By hand, not part of `make test` (that runs ServeCrashTests on a tiny model): the served store's crash check on the
# default model. Two stores get the same EDITS CounterFact edits (default 10) in one POST, applied by `emend serve`
# in batches of 2 with ENCORE. The first server runs undisturbed; the second is killed with SIGKILL KILLS times
# (default 6): inside its commits (EMEND_STORE_CRASH_AT: before the tensor file is complete, after it is renamed,
# inside the journal transaction, just after it) and at random instants, and restarted each time. At the end every
# acknowledged edit must be applied exactly once, both stores' weights and state SHA-256 must agree at every version,
# and `emend store verify` must pass.
#
#   scripts/serve-crash-check.sh [WORKDIR]      (several minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
R="${REQUESTS:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}"
edits="${EDITS:-10}"; kills="${KILLS:-6}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"; work="$(cd "$work" && pwd)"; cd "$work"
rm -rf clean crashed keys.txt
"$E" store init clean --model smollm2 --checkpoint-every 3 >/dev/null
"$E" store init crashed --model smollm2 --checkpoint-every 3 >/dev/null
cp "$root/Sources/EmendEditing/Presets/smollm2-135m-encore.json" preset.json
key=$("$E" serve keys add --keys keys.txt --scope edit --name crash | awk '{print $NF}')
python3 -c "
import json; rs = json.load(open('$R'))[:$edits]
json.dump([{k: r[k] for k in ('prompt', 'subject', 'target_new', 'ground_truth')} for r in rs], open('edits.json', 'w'))"
port="${PORT:-18099}"

# start STORE [ENV...]: runs a server in the background (pid in $spid), waits for its port.
start() {
  local store=$1; shift
  env "$@" "$E" serve --store "$store" --keys keys.txt --port "$port" --preset "$work/preset.json" \
    --max-batch 2 --max-wait 0 >> "$store.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/health" && return 0
    kill -0 $spid 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
left() {  # queued + applying in the store's journal, read with sqlite3's CLI-free route: the server's own API is gone
  python3 -c "
import sqlite3; db = sqlite3.connect('file:$1/store.sqlite?mode=ro', uri=True)
print(db.execute(\"SELECT COUNT(*) FROM queue WHERE status IN ('queued', 'applying')\").fetchone()[0])"
}
post() { curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  "http://127.0.0.1:$port/v1/edits" --data-binary @edits.json; }

t0=$(date +%s)
start clean
echo "clean: POST $(post)"
while [ "$(left clean)" != 0 ]; do sleep 0.5; done
kill -TERM $spid; wait $spid || true
echo "clean run: $(( $(date +%s) - t0 )) s"

points=(tensor-write:1 journal-committed:1 random journal-commit:1 tensor-renamed:1 random journal-committed:1)
RANDOM=11
n=0; posted=0; runs=0
while :; do
  runs=$((runs + 1)); [ $runs -lt 40 ] || { echo "crash loop did not finish" >&2; exit 1; }
  envs=(); timer=""
  if [ $n -lt "$kills" ]; then
    p=${points[$((n % ${#points[@]}))]}
    if [ "$p" = random ]; then timer=$(( 3 + RANDOM % 20 )); else envs=(EMEND_STORE_CRASH_AT=$p); fi
  fi
  start crashed "${envs[@]}" || true
  if [ $posted = 0 ]; then code=$(post || true); echo "crashed: POST $code"; [ "$code" = 202 ] && posted=1; fi
  if [ -n "$timer" ]; then (sleep "$timer"; kill -KILL $spid 2>/dev/null) & fi
  while kill -0 $spid 2>/dev/null && [ "$(left crashed)" != 0 -o $posted = 0 ]; do sleep 0.3; done
  if kill -0 $spid 2>/dev/null; then kill -TERM $spid; fi
  rc=0; wait $spid || rc=$?
  if [ $rc = 137 ]; then n=$((n + 1)); echo "kill $n: ${envs[*]:-timer ${timer}s}"; fi
  [ $posted = 1 ] && [ "$(left crashed)" = 0 ] && [ $n -ge "$kills" ] && break
  [ $posted = 1 ] && [ "$(left crashed)" = 0 ] && { echo "queue finished after $n kill(s)"; break; }
done

python3 - <<EOF
import sqlite3
def rows(store):
    db = sqlite3.connect(f"file:{store}/store.sqlite?mode=ro", uri=True)
    versions = db.execute("SELECT version, weights_sha256, state_sha256 FROM batches WHERE status = 'committed' ORDER BY version").fetchall()
    applied = db.execute("SELECT COUNT(*), COUNT(DISTINCT r.request_key) FROM requests r JOIN batches b ON b.id = r.batch_id WHERE b.status = 'committed'").fetchone()
    queue = db.execute("SELECT status, COUNT(*) FROM queue GROUP BY status").fetchall()
    return versions, applied, queue
a, b = rows("clean"), rows("crashed")
print("clean:  ", len(a[0]), "versions, request rows / distinct facts", a[1], "queue", a[2])
print("crashed:", len(b[0]), "versions, request rows / distinct facts", b[1], "queue", b[2])
print("weights and state SHA-256 equal at every version:", a[0] == b[0])
assert a[0] == b[0] and b[1] == ($edits, $edits) and dict(b[2]) == {"applied": $edits}, "MISMATCH"
EOF
"$E" store verify crashed | tail -1
echo "serve-crash-check: ok ($n kills, $runs runs)"
