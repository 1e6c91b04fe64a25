#!/usr/bin/env bash
# Do edits survive a small GGUF export after a 1,000-edit sequential run? For METHOD in encore memit, commits the
# first EDITS CounterFact requests to an edit store on the default model (smollm2), batch after batch (BATCH per
# batch, each batch edits the model the previous one left), then exports the head once per --export-type and scores
# each written file on all EDITS records. The store lives under STATE (default $EMEND_HOME/survival-sequential, so
# a stopped run resumes where it stopped: `emend edit --store` resumes, finished exports are kept); rows go to
# OUTDIR/survival-sequential.tsv as each finishes, and a markdown table is printed at the end.
# Usage: scripts/export-survival-sequential.sh BINARY OUTDIR   (METHODS, TYPES, EDITS, BATCH, STATE override)
set -euo pipefail
binary=${1:?usage: export-survival-sequential.sh BINARY OUTDIR}
outdir=${2:?usage: export-survival-sequential.sh BINARY OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${DATA:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}
methods=${METHODS:-encore memit}
types=${TYPES:-f32 auto q8_0 q4_k keep q6_k bf16}
edits=${EDITS:-1000}
batch=${BATCH:-100}
state=${STATE:-${EMEND_HOME:-$HOME/.cache/emend}/survival-sequential}
mkdir -p "$outdir" "$state"
tsv=$outdir/survival-sequential.tsv
[ -f "$tsv" ] || printf 'method\tedits\ttype\tES\tPS\tNS\tS\tbytes\n' > "$tsv"

for method in $methods; do
  store=$state/$method-$edits.store
  [ -d "$store" ] || "$binary" store init "$store" --model smollm2
  # Re-running resumes an interrupted run; a finished one commits nothing new. Its standard error (with the time and
  # peak memory where /usr/bin/time exists) goes to STATE/METHOD-EDITS.edit.time, shown when the edit fails.
  timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
  if ! "${timer[@]}" "$binary" edit --store "$store" --method "$method" --requests "$data" --limit "$edits" \
      --batch-size "$batch" --on-duplicate keep-both --quiet 2> "$state/$method-$edits.edit.time" \
      | tee "$outdir/$method-$edits.edit.log"; then
    grep -v "^$(printf '\t')" "$state/$method-$edits.edit.time" | tail -n 20 >&2  # without time's tab-indented stats
    exit 1
  fi
  for type in $types; do
    grep -q "^$method	$edits	$type	" "$tsv" && continue
    out=$state/$method-$edits-$type.gguf
    "$binary" store export "$store" --format gguf --export-type "$type" --out "$out"
    "$binary" eval --model "$out" --dataset counterfact --data "$data" --records "0..$((edits - 1))" --json \
      > "$outdir/$method-$edits-$type.eval.json"
    bytes=$(stat -c %s "$out")
    python3 "$root/scripts/survival_table.py" row "$outdir/$method-$edits-$type.eval.json" \
      "$method" "$edits" "$type" "$bytes" >> "$tsv"
    rm -f "$out"
  done
done

python3 "$root/scripts/survival_table.py" table "$tsv"
