#!/usr/bin/env bash
# By hand, not part of `make test`: the dashboard in headless Chromium (Debian's `chromium`), driven through the
# DevTools protocol (Python's websocket-client, in a venv). It loads /, fills the edit form (an edit key, "The Eiffel
# Tower is located in the city of" → Rome) and submits it like a person would, reloads until the edit shows as
# applied, then uses the "try a prompt" box and saves screenshots (dashboard-*.png) of both pages.
#
#   scripts/check-dashboard.sh [WORKDIR]       (needs: apt-get install chromium; the default model from setup)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"; work="$(cd "$work" && pwd)"; cd "$work"
command -v chromium >/dev/null || { echo "no chromium: apt-get install chromium" >&2; exit 1; }
if [ ! -x venv/bin/python ]; then python3 -m venv venv; venv/bin/python -m pip install --quiet websocket-client; fi
rm -rf store keys.txt chrome
"$E" store init store --model smollm2 >/dev/null
edit=$("$E" serve keys add --keys keys.txt --scope edit --name dashboard | awk '{print $NF}')
port="${PORT:-18095}"; devtools="${DEVTOOLS_PORT:-19222}"
"$E" serve --store store --keys keys.txt --port "$port" --max-batch 1 --max-wait 0 > serve.log 2>&1 &
spid=$!
chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$work/chrome" --remote-debugging-port="$devtools" \
  --window-size=1200,1400 about:blank > chrome.log 2>&1 &
cpid=$!
trap 'kill $spid $cpid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q "listening on" serve.log && break; sleep 0.2; done

PORT="$port" DEVTOOLS="$devtools" KEY="$edit" venv/bin/python - <<'EOF'
import base64, json, os, time, urllib.request
import websocket
base = f"http://127.0.0.1:{os.environ['PORT']}"
for _ in range(100):
    try:
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{os.environ['DEVTOOLS']}/json/list")); break
    except Exception: time.sleep(0.2)
page = next(t for t in targets if t["type"] == "page")
ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
n = 0
def cdp(method, **params):
    global n; n += 1
    ws.send(json.dumps({"id": n, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == n: return m.get("result", {})
def load(url):
    cdp("Page.navigate", url=url)
    for _ in range(100):
        time.sleep(0.2)
        if cdp("Runtime.evaluate", expression="document.readyState")["result"]["value"] == "complete": return
def js(expr): return cdp("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")
def shot(name):
    open(name, "wb").write(base64.b64decode(cdp("Page.captureScreenshot", format="png")["data"]))
cdp("Page.enable")
load(base + "/")
print("loaded:", js("document.title"), "|", js("document.getElementById('version').textContent"))
key = json.dumps(os.environ["KEY"])
js(f"""document.getElementById('edit-key').value = {key};
document.getElementById('edit-prompt').value = 'The Eiffel Tower is located in the city of';
document.getElementById('edit-subject').value = 'Eiffel Tower';
document.getElementById('edit-target').value = 'Rome';
document.querySelector('#edit-form button').click(); 1""")
time.sleep(1)
print("after submit:", js("location.pathname + location.search"), "|", js("(document.getElementById('note') || {}).textContent"))
t0 = time.time()
status = ""
while time.time() - t0 < 300:
    load(base + "/")
    status = js("(document.querySelector('#edits tr:nth-child(2) td:nth-child(2)') || {}).textContent") or ""
    if status.startswith("applied") or status.startswith("refused"): break
    time.sleep(1)
print(f"edit status on the page: {status!r} after {time.time() - t0:.0f} s; serving:", js("document.getElementById('version').textContent"))
shot("dashboard-applied.png")
js(f"""document.getElementById('try-key').value = {key};
document.getElementById('try-prompt').value = 'The Eiffel Tower is located in the city of';
document.querySelector('form[action="/dashboard/try"] button').click(); 1""")
for _ in range(300):
    time.sleep(0.5)
    rows = js("Array.from(document.querySelectorAll('#answers tr')).map(r => r.innerText)")
    if rows: break
print("try a prompt:", rows)
shot("dashboard-try.png")
ok = status.startswith("applied") and rows and any("Rome" in r for r in rows[1:2])
print("check-dashboard:", "ok" if ok else "FAILED")
raise SystemExit(0 if ok else 1)
EOF
