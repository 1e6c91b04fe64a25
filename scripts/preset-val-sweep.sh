#!/usr/bin/env bash
# Re-runs a preset sweep on counterfact-val.json (by hand): each setting edits records 0..N-1 as one batch with a
# variant of a built-in ENCORE preset, then scores them with `emend eval`. It chose the Gemma-3-270M presets
# (README, "Gemma-3-270M"); scripts/encore-val-sweep.sh is the default model's sweep.
# Usage: scripts/preset-val-sweep.sh MODEL BASE_PRESET OUT_DIR RECORDS "name layers lambdaP lambdaN extraSteps" ...
#   scripts/preset-val-sweep.sh gemma3-270m gemma3-270m-encore out/gemma-sweep 100 "l3-7 3,4,5,6,7 500 10 1"
# (needs ../shared/data beside the repository, and python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?model}; preset=${2:?base preset}; out=${3:?out dir}; records=${4:?record count}; shift 4
val=$root/../shared/data/counterfact_easyedit/counterfact-val.json
emend=${EMEND:-$root/.build/release/emend}
base=$root/Sources/EmendEditing/Presets/$preset.json
mkdir -p "$out"
for setting in "$@"; do
  set -- $setting
  python3 - "$base" "$out/$1.json" "$2" "$3" "$4" "$5" <<'PY'
import json, sys
base, dst, layers, lp, ln, extra = sys.argv[1:]
p = json.load(open(base))
p["name"] = "sweep-" + dst.rsplit("/", 1)[-1][:-5]
p["layers"] = [int(x) for x in layers.split(",")]
p["rule"] = {"normConstrained": {"lambdaP": float(lp), "lambdaN": float(ln)}}
p["search"]["stopping"] = {"mostProbable": {"extraSteps": int(extra)}}
json.dump(p, open(dst, "w"), indent=1)
PY
  "$emend" edit --model "$model" --method encore --preset "$out/$1.json" --requests "$val" --limit "$records" \
    --batch-size "$records" --out "$out/$1.gguf" > "$out/$1.edit.log" 2>&1
  "$emend" eval --model "$out/$1.gguf" --dataset counterfact --data "$val" --records "0..$((records - 1))" > "$out/$1.eval.log"
  rm -f "$out/$1.gguf"
  echo "$1: $(grep '^success' "$out/$1.eval.log") $(grep -o '[0-9.]* steps/fact' "$out/$1.edit.log" | tail -1)"
done
