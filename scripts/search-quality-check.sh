#!/usr/bin/env bash
# The speed work's quality gate (issue 15, point 3): edits the same 100 records with ENCORE, MEMIT and AlphaEdit
# using the given `emend` binary and scores them with it, so two builds (or two compute precisions) can be
# compared record for record. Two sets: the first 100 records of counterfact-edit.json with the reference presets
# (the bench's records and settings) and the first 100 of counterfact-val.json with the shipped presets.
# Usage: scripts/search-quality-check.sh EMEND_BINARY OUT_DIR      (needs ../shared/data beside the repository)
# Prints one line per method and set: steps/fact, then the eval's ES / PS / NS / S line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
emend=${1:?usage: search-quality-check.sh EMEND_BINARY OUT_DIR}
out=${2:?usage: search-quality-check.sh EMEND_BINARY OUT_DIR}
data=$root/../shared/data/counterfact_easyedit
mkdir -p "$out"
for set in "edit smollm2-135m-reference-" "val smollm2-135m-"; do
  read -r name prefix <<< "$set"
  for method in encore memit alphaedit; do
    tag=$name-$method
    "$emend" edit --method "$method" --preset "$prefix$method" --requests "$data/counterfact-$name.json" --limit 100 \
      --batch-size 100 --out "$out/$tag.gguf" > "$out/$tag.edit.log" 2>&1
    "$emend" eval --model "$out/$tag.gguf" --dataset counterfact --data "$data/counterfact-$name.json" --records 0..99 \
      > "$out/$tag.eval.log" 2>&1
    rm -f "$out/$tag.gguf"
    steps=$(grep -o '[0-9.]* steps/fact' "$out/$tag.edit.log" | head -1 || true)
    echo "$tag: ${steps:-? steps/fact}; $(grep -i '^success\|^ES\|efficacy' "$out/$tag.eval.log" | head -1)"
  done
done
