#!/usr/bin/env bash
# Do edits survive a small GGUF export? For METHOD in encore memit and each --export-type, edits the first 100
# CounterFact requests into the default model (smollm2) in one batch, writes the GGUF with the edited tensors in
# that type, and evaluates the written file on the same 100 records. Rows go to OUTDIR/survival.tsv (appended as
# each finishes, so a stopped run keeps what it measured); a markdown table is printed at the end. The issue's
# default type (ExportDType.ggufDefault) is the smallest whose ES stays within 1 point of F32.
# Usage: scripts/export-survival.sh BINARY OUTDIR   (METHODS / TYPES in the environment override the lists)
set -euo pipefail
binary=${1:?usage: export-survival.sh BINARY OUTDIR}
outdir=${2:?usage: export-survival.sh BINARY OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${DATA:-$root/../shared/data/counterfact_easyedit/counterfact-edit.json}
methods=${METHODS:-encore memit}
types=${TYPES:-f32 bf16 f16 q8_0 q6_k q5_k q4_k keep}
mkdir -p "$outdir"
tsv=$outdir/survival.tsv
[ -f "$tsv" ] || printf 'method\ttype\tES\tPS\tNS\tS\tbytes\n' > "$tsv"

for method in $methods; do
  for type in $types; do
    out=$outdir/$method-$type.gguf
    "$binary" edit --method "$method" --requests "$data" --limit 100 --batch-size 100 --quiet \
      --out "$out" --export-type "$type" | tee "$outdir/$method-$type.edit.log"
    "$binary" eval --model "$out" --dataset counterfact --data "$data" --records 0..99 --json > "$outdir/$method-$type.eval.json"
    bytes=$(stat -c %s "$out")
    python3 "$root/scripts/survival_table.py" row "$outdir/$method-$type.eval.json" "$method" "$type" "$bytes" >> "$tsv"
  done
done

python3 "$root/scripts/survival_table.py" table "$tsv"
