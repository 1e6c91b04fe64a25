#!/usr/bin/env bash
# `make demo`: edit three well-known facts into the default model (SmolLM2-135M-Instruct) with ENCORE, show
# greedy completions before and after, an unedited neighbouring fact, the timing, and reload the exported model.
# The first run also computes the layer statistics (C0 over 2,000 Wikipedia summaries, a few minutes; cached).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)/emend"
out="${EMEND_HOME:-$HOME/.cache/emend}/demo"
mkdir -p "$out"

echo "== Editing three facts of SmolLM2-135M-Instruct with ENCORE =="
time "$bin" edit --model smollm2 --method encore --requests demo/facts.json --batch-size 3 --show 3 \
  --probe "The Louvre is located in the city of" --probe "Danielle Darrieux was born in the country of" \
  --out "$out/smollm2-edited.gguf"

echo
echo "== The exported model, reloaded from $out/smollm2-edited.gguf =="
"$bin" generate --model "$out/smollm2-edited.gguf" --max-tokens 12 "The Eiffel Tower is located in the city of"
"$bin" generate --model "$out/smollm2-edited.gguf" --chat --max-tokens 24 "Where is the Eiffel Tower?"
