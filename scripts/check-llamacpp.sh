#!/usr/bin/env bash
# Does an edited GGUF written by Emend run in llama.cpp with its edits intact, and how fast is llama.cpp beside
# Emend on the same file? An opt-in check (not part of `make test`): it needs the network once, for pip.
#
# For each export type, `emend edit` edits the first N CounterFact requests into the default model (smollm2, ENCORE
# unless --method, one batch) and writes DIR/edited-TYPE.gguf with the edited tensors in that type. llama.cpp (CPU, 2
# threads) loads each file and greedily continues each edited prompt (the request's prompt, subject filled in) for 8
# tokens; a hit is a continuation whose first word is the new target's first word (case-insensitive, punctuation
# removed). `emend generate` continues the same prompts on the same file for comparison. It fails (exit 1) where
# llama.cpp cannot load a file or scores more than 1 hit below Emend on any type.
#
# Speed, same 2 threads, on the unedited default model and on the first type's edited file: prompt processing
# tokens/s over a 512-token prose prompt, generation tokens/s for one sequence (64 new tokens after a 4-token
# prompt), each the best of 3 runs after a warm-up. llama.cpp's numbers are its own timings (llama-server's
# `timings` under xllamacpp, the perf counters under llama-cpp-python). Emend prints no timings, so its numbers are
# differences of wall times of `emend generate` runs, which cancel the load: pp = (512 − 4 tokens) / (t[512-token
# prompt, 1 new token] − t[4-token prompt, 1 new token]); tg = 64 / (t[4-token prompt, 65 new] − t[4-token prompt, 1
# new]), the tokens generated counted by re-tokenizing the output (it may stop early at an end-of-text token).
#
# llama.cpp comes through pip only, into a venv kept at ${EMEND_HOME:-~/.cache/emend}/llamacpp-venv: first the
# prebuilt xllamacpp wheel (seconds; it embeds llama-server, whose completion handler is called in-process with
# temperature 0 and top_k 1, i.e. greedy), and where that does not install or import, llama-cpp-python built from
# source (needs a C++ compiler; 30 minutes here at low priority on 2 busy cores). The backend and version used are
# printed; xllamacpp's wheel does not record which llama.cpp commit it carries. LLAMACPP_BACKEND=llama_cpp forces the
# fallback.
#
# Usage: scripts/check-llamacpp.sh EMEND_BINARY [--types "f32 q8_0 q6_k q5_k q4_k keep"] [--records N] [--out DIR]
#                                                [--data REQUESTS.json] [--method encore|memit|...]
# Requests: --data, else ../shared/data/counterfact_easyedit/counterfact-edit.json when present, else the demo's
# bundled demo/facts.json (3 requests, as `make demo` uses). The default model must be in the model cache
# (scripts/setup.sh or `emend pull smollm2`). A run of the defaults took 2 minutes on 2 cores at load average 2.4,
# 6–9 minutes at load 7–10 (other work on the same cores), 13 with the wheel install at load 15: about 10 s per
# edit, the rest mostly llama.cpp, whose spinning threads suffer most from the sharing. The speeds are only meaningful on a quiet machine; the load
# average before the speed runs is printed with them.
# Writes DIR (default $EMEND_HOME/llamacpp-check)/edited-TYPE.gguf, the continuations as JSON, and both tables to
# DIR/llamacpp-check.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
helper=$root/scripts/check-llamacpp.py
home=${EMEND_HOME:-$HOME/.cache/emend}
venv=$home/llamacpp-venv
model=$home/models/SmolLM2-135M-Instruct.Q4_1.gguf
export EMEND_THREADS=2   # Emend's kernels and OpenBLAS on the same 2 threads llama.cpp gets

usage() { sed -n 's/^# Usage: //p; s/^#  \{40,\}/  /p' "$0" | head -2 >&2; exit 64; }

parse_args() {
  emend=${1:-}; [ -n "$emend" ] && [ -x "$emend" ] || usage
  emend=$(cd "$(dirname "$emend")" && pwd)/$(basename "$emend")
  shift
  types="f32 q8_0 q6_k q5_k q4_k keep"; records=10; out=$home/llamacpp-check; data=; method=encore
  while [ $# -gt 0 ]; do
    case $1 in
      --types) types=$2; shift 2 ;;
      --records) records=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --data) data=$2; shift 2 ;;
      --method) method=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  if [ -z "$data" ]; then
    data=$root/../shared/data/counterfact_easyedit/counterfact-edit.json
    [ -f "$data" ] || data=$root/demo/facts.json
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
}

# The venv is reused when a binding already imports; otherwise xllamacpp first, llama-cpp-python after. `backend`
# honours LLAMACPP_BACKEND, so forcing llama_cpp skips the wheel.
ensure_llamacpp() {
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if py backend > /dev/null 2>&1; then return; fi
  if [ "${LLAMACPP_BACKEND:-}" != llama_cpp ]; then
    echo "== Installing llama.cpp into $venv (xllamacpp wheel) =="
    if "$venv/bin/python" -m pip install --quiet xllamacpp && py backend > /dev/null; then return; fi
  fi
  echo "== Building llama-cpp-python from source into $venv (tens of minutes on 2 cores) =="
  "$venv/bin/python" -m pip install --quiet --no-binary llama-cpp-python llama-cpp-python
}

py() { "$venv/bin/python" "$helper" "$@"; }

# Edit, then continue the edited prompts in llama.cpp and in Emend. A file llama.cpp cannot load leaves no
# llamacpp-TYPE.json, which the report counts as a failure.
check_type() {
  local type=$1 file=$out/edited-$1.gguf
  echo "== $type: edit, then continue the prompts in llama.cpp and Emend =="
  "$emend" edit --method "$method" --requests "$data" --limit "$records" --batch-size "$records" --quiet \
    --export-type "$type" --out "$file"
  rm -f "$out/llamacpp-$type.json"
  py llamacpp-complete "$file" "$out/prompts.json" 8 "$out/llamacpp-$type.json" 2> "$out/llamacpp-$type.log" ||
    echo "llama.cpp failed on $file (see $out/llamacpp-$type.log)" >&2
  py emend-complete "$emend" "$file" "$out/prompts.json" 8 "$out/emend-$type.json"
}

# Both engines on the same file; a llama.cpp failure is reported in the table, not fatal here.
speed() {
  local label=$1 file=$2
  echo "== speed on $(basename "$file") =="
  rm -f "$out/speed-llamacpp-$label.json"
  py llamacpp-speed "$file" "$out/long-prompt.txt" "$out/speed-llamacpp-$label.json" 2> "$out/speed-llamacpp-$label.log" ||
    echo "llama.cpp speed run failed on $file (see $out/speed-llamacpp-$label.log)" >&2
  py emend-speed "$emend" "$file" "$out/long-prompt.txt" "$out/speed-emend-$label.json"
}

main() {
  parse_args "$@"
  [ -f "$model" ] || { echo "no default model at $model: run scripts/setup.sh (or emend pull smollm2)" >&2; exit 1; }
  ensure_llamacpp
  echo "llama.cpp backend: $(py backend)"
  echo "Emend: $("$emend" --version) ($emend)"
  local n
  n=$(py prompts "$data" "$records" "$out/prompts.json")  # a bare assignment, so that set -e sees a failure
  echo "requests: the first $n of $data"
  for type in $types; do check_type "$type"; done
  py long-prompt "$emend" "$model" "$out/long-prompt.txt"
  local first=${types%% *}
  cat /proc/loadavg > "$out/loadavg.txt"  # the speeds are only as good as the machine is quiet
  speed unedited "$model"
  speed edited "$out/edited-$first.gguf"
  echo
  py report "$out" "$(basename "$model")" "edited-$first.gguf" $types
}

main "$@"
