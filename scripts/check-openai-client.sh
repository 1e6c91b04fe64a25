#!/usr/bin/env bash
# By hand, not part of `make test`: the official `openai` Python package against `emend serve` on the default model.
# It lists the models, completes, chats and streams both; then an edit posted with curl ("The Eiffel Tower is located
# in the city of" → Rome) is applied by the server's writer, and the same client's answer changes once the batch has
# committed, with the new version named in system_fingerprint.
#
#   scripts/check-openai-client.sh [WORKDIR]     (default: a temporary folder; needs python3 -m venv and the model
#                                                 fetched by scripts/setup.sh; a few minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
E="${EMEND:-$root/.build/release/emend}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
cd "$work"
[ -x "$E" ] || { echo "no $E: build it first (swift build -c release)" >&2; exit 1; }

if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
  venv/bin/python -m pip install --quiet openai
fi
venv/bin/python -c 'import openai; print("openai", openai.__version__)'

rm -rf store keys.txt
"$E" store init store --model smollm2 >/dev/null
gen=$("$E" serve keys add --keys keys.txt --scope generate --name client | awk '{print $NF}')
edit=$("$E" serve keys add --keys keys.txt --scope edit --name curl | awk '{print $NF}')
port="${PORT:-18080}"
"$E" serve --store store --keys keys.txt --port "$port" --max-batch 4 --max-wait 1 > serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do grep -q "listening on" serve.log && break; sleep 0.2; done
grep "listening on" serve.log

export OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="$gen"
venv/bin/python - <<'EOF' | tee before.txt
from openai import OpenAI
client = OpenAI()
models = client.models.list()
print("models:", [m.id for m in models.data])
model = models.data[0].id
prompt = "The Eiffel Tower is located in the city of"
c = client.completions.create(model=model, prompt=prompt, max_tokens=8, temperature=0)
print("completion:", repr(c.choices[0].text), "finish:", c.choices[0].finish_reason, "version:", c.system_fingerprint, "usage:", c.usage.total_tokens)
chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=16, temperature=0)
print("chat:", repr(chat.choices[0].message.content), "version:", chat.system_fingerprint)
pieces = [ch.choices[0].text for ch in client.completions.create(model=model, prompt=prompt, max_tokens=8, temperature=0, stream=True) if ch.choices]
print("stream completion:", len(pieces), "events,", repr("".join(pieces)), "same as non-streamed:", "".join(pieces) == c.choices[0].text)
deltas = [ch.choices[0].delta.content or "" for ch in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=16, temperature=0, stream=True) if ch.choices]
print("stream chat:", len(deltas), "events,", repr("".join(deltas)), "same as non-streamed:", "".join(deltas) == chat.choices[0].message.content)
try:
    client.completions.create(model=model, prompt=prompt, max_tokens=10**9)
except Exception as e:
    print("huge max_tokens refused:", type(e).__name__, getattr(e, "status_code", None))
EOF

echo "posting the edit with curl"
curl -s -o edit.json -w "HTTP %{http_code}\n" -H "Authorization: Bearer $edit" -H "Content-Type: application/json" \
  "http://127.0.0.1:$port/v1/edits" \
  -d '[{"prompt": "The Eiffel Tower is located in the city of", "subject": "Eiffel Tower", "target_new": "Rome", "ground_truth": "Paris"}]'
cat edit.json; echo
id=$(python3 -c 'import json; print(json.load(open("edit.json"))["data"][0]["id"])')
t0=$(date +%s)
for _ in $(seq 1 1200); do
  status=$(curl -s -H "Authorization: Bearer $gen" "http://127.0.0.1:$port/v1/edits/$id" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["version"])')
  case "$status" in applied*|refused*) break ;; esac
  sleep 0.5
done
echo "edit $id: $status after $(( $(date +%s) - t0 ))s"

venv/bin/python - <<'EOF' | tee after.txt
from openai import OpenAI
client = OpenAI()
model = client.models.list().data[0].id
prompt = "The Eiffel Tower is located in the city of"
c = client.completions.create(model=model, prompt=prompt, max_tokens=8, temperature=0)
print("after the edit:", repr(c.choices[0].text), "version:", c.system_fingerprint)
print("model id unchanged:", model)
print("Rome in the answer:", "Rome" in c.choices[0].text)
EOF
kill -TERM $pid
wait $pid || true
trap - EXIT
"$E" store verify store | tail -1
grep -q "Rome in the answer: True" after.txt && echo "check-openai-client: ok" || { echo "check-openai-client: the edit did not show in the answer" >&2; exit 1; }
