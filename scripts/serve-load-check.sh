#!/usr/bin/env bash
# By hand, not part of `make test`: `emend serve` under load on the default model. CLIENTS clients (default 8) send
# completions (every fourth one streamed) for LOAD_SECONDS seconds (default 60) while EDITS edits (default 10, CounterFact
# records) are applied in batches of 2 (5 batches); the run goes on until every edit is applied. It reports failed
# requests, p50/p99 latency, tokens/s, the versions answered with, and checks that each response (each streamed
# event) names exactly one version. Then generation throughput side by side: one client through the server against
# `emend generate`, both timed as (t(N tokens) - t(1 token)) / (N - 1), so model loading and the prompt are left out.
#
#   scripts/serve-load-check.sh [WORKDIR]      (a few minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
R="${REQUESTS:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"; work="$(cd "$work" && pwd)"; cd "$work"
rm -rf store keys.txt
"$E" store init store --model smollm2 >/dev/null
gen=$("$E" serve keys add --keys keys.txt --scope generate --name load | awk '{print $NF}')
edit=$("$E" serve keys add --keys keys.txt --scope edit --name editor | awk '{print $NF}')
port="${PORT:-18090}"
"$E" serve --store store --keys keys.txt --port "$port" --max-batch 2 --max-wait 1 --rate-limit 0 > serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q "listening on" serve.log && break; sleep 0.2; done

PORT="$port" GEN="$gen" EDIT="$edit" REQUESTS="$R" CLIENTS="${CLIENTS:-8}" SECONDS_="${LOAD_SECONDS:-60}" EDITS="${EDITS:-10}" \
E="$E" python3 - <<'EOF'
import json, os, subprocess, threading, time, urllib.request
base = f"http://127.0.0.1:{os.environ['PORT']}"
gen, edit = os.environ["GEN"], os.environ["EDIT"]
clients, seconds, n_edits = int(os.environ["CLIENTS"]), float(os.environ["SECONDS_"]), int(os.environ["EDITS"])

def call(path, body=None, key=gen, stream=False):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, dict(r.headers), r.read()

records = json.load(open(os.environ["REQUESTS"]))[:n_edits]
edits = [{"prompt": r["prompt"], "subject": r["subject"], "target_new": r["target_new"], "ground_truth": r.get("ground_truth")} for r in records]
prompts = [r["prompt"] for r in json.load(open(os.environ["REQUESTS"]))[100:140]]

results, lock = [], threading.Lock()
stop_at = time.time() + seconds
all_applied = threading.Event()

def client(i):
    k = 0
    while time.time() < stop_at or not all_applied.is_set():
        if time.time() > stop_at + 600: break
        prompt = prompts[(i * 7 + k) % len(prompts)]; k += 1
        stream = k % 4 == 0
        t0 = time.time()
        try:
            status, headers, body = call("/v1/completions", {"prompt": prompt, "max_tokens": 16, "temperature": 0, "stream": stream})
            dt = time.time() - t0
            if stream:
                events = [json.loads(e[6:]) for e in body.decode().split("\n\n") if e.startswith("data: {")]
                versions = {e["system_fingerprint"] for e in events}
                tokens = None
            else:
                o = json.loads(body); versions = {o["system_fingerprint"]}; tokens = o["usage"]["completion_tokens"]
            one = len(versions) == 1 and f"emend-v{headers.get('Emend-Version')}" in versions
            with lock: results.append((status, dt, tokens, versions, one, stream))
        except Exception as e:
            with lock: results.append((getattr(e, "code", None) or str(e), time.time() - t0, None, set(), False, stream))

threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
t_start = time.time()
for t in threads: t.start()
time.sleep(2)
# Five batches: the edits go in one POST, the writer takes them two at a time.
status, _, body = call("/v1/edits", edits, key=edit)
ids = [d["id"] for d in json.loads(body)["data"]]
print(f"posted {len(ids)} edits: HTTP {status}")
while True:
    rows = json.loads(call("/v1/edits?limit=1000")[2])["data"]
    mine = [r for r in rows if r["id"] in ids]
    if all(r["status"] in ("applied", "refused") for r in mine): break
    time.sleep(1)
all_applied.set()
t_applied = time.time() - t_start
for t in threads: t.join()
elapsed = time.time() - t_start
lat = sorted(r[1] for r in results)
ok = [r for r in results if r[0] == 200]
failed = len(results) - len(ok)
tokens = sum(r[2] for r in ok if r[2] is not None)
plain = [r for r in ok if r[2] is not None]
statuses = {}
for r in mine: statuses[r["status"]] = statuses.get(r["status"], 0) + 1
print(f"{clients} clients, {elapsed:.0f} s ({seconds:.0f} s asked, edits applied after {t_applied:.0f} s): {len(results)} requests, {failed} failed")
print(f"edits: {statuses}; versions answered with: {sorted(set().union(*[r[3] for r in ok]))}")
print(f"every response from exactly one version: {all(r[4] for r in ok)} ({sum(1 for r in ok if r[5])} streamed)")
print(f"latency p50 {lat[len(lat)//2]:.2f} s, p99 {lat[min(len(lat)-1, int(len(lat)*0.99))]:.2f} s; "
      f"{tokens / elapsed:.1f} completion tokens/s over the non-streamed requests ({len(plain)})")

# Side by side: one client through the server vs emend generate, per generated token.
prompt = "Once upon a time, in a small village by the sea,"
def server_time(n):
    t0 = time.time(); o = json.loads(call("/v1/completions", {"prompt": prompt, "max_tokens": n, "temperature": 0})[2]); return time.time() - t0, o["usage"]["completion_tokens"]
def cli_time(n):
    t0 = time.time(); subprocess.run([os.environ["E"], "generate", "--model", "smollm2", "--max-tokens", str(n), prompt], check=True, capture_output=True); return time.time() - t0
N = 96
s1 = min(server_time(1)[0] for _ in range(3)); sN = min(server_time(N) for _ in range(3))
c1 = min(cli_time(1) for _ in range(3)); cN = min(cli_time(N) for _ in range(3))
s_rate = (sN[1] - 1) / (sN[0] - s1); c_rate = (sN[1] - 1) / (cN - c1)
print(f"throughput, one client, {sN[1]} tokens: server {s_rate:.1f} tokens/s, emend generate {c_rate:.1f} tokens/s, ratio {s_rate / c_rate:.2f}")
EOF
kill -TERM $pid; wait $pid || true; trap - EXIT
"$E" store verify store | tail -1
