#!/usr/bin/env bash
# Re-runs the validation sweep that chose the default model's ENCORE preset (by hand; ~5 min per setting on
# 2 idle cores). Each setting edits counterfact-val.json records 0..99 as one batch, then scores them.
# Usage: scripts/encore-val-sweep.sh [OUT_DIR]     (needs ../shared/data beside the repository, and python3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/encore-val-sweep}
val=$root/../shared/data/counterfact_easyedit/counterfact-val.json
emend=$root/.build/release/emend
base=$root/Sources/EmendEditing/Presets/smollm2-135m-encore.json
mkdir -p "$out"
# name lambdaP lambdaN extraSteps
for setting in "lp1500 1500 20 1" "lp500 500 20 1" "lp250 250 20 1" "lp500-ln10 500 10 1" "lp500-mpes2 500 20 2"; do
  set -- $setting
  python3 - "$base" "$out/$1.json" "$2" "$3" "$4" <<'PY'
import json, sys
base, dst, lp, ln, extra = sys.argv[1:]
p = json.load(open(base))
p["name"] = "sweep-" + dst.rsplit("/", 1)[-1][:-5]
p["rule"] = {"normConstrained": {"lambdaP": float(lp), "lambdaN": float(ln)}}
p["search"]["stopping"] = {"mostProbable": {"extraSteps": int(extra)}}
json.dump(p, open(dst, "w"), indent=1)
PY
  "$emend" edit --method encore --preset "$out/$1.json" --requests "$val" --limit 100 --batch-size 100 --out "$out/$1.gguf" > "$out/$1.edit.log"
  "$emend" eval --model "$out/$1.gguf" --dataset counterfact --data "$val" --records 0..99 > "$out/$1.eval.log"
  rm -f "$out/$1.gguf"
  echo "$1: $(grep '^success' "$out/$1.eval.log")"
done
