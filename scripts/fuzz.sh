#!/usr/bin/env bash
# Fuzzes Emend's parsers with libFuzzer and AddressSanitizer (`make fuzz`), one target after another, and prints a
# table: executions, coverage (libFuzzer's cov: edges and ft: features), corpus size and findings per target.
#   scripts/fuzz.sh [--seconds S] [--runs N] [--update-corpus] [TARGET...]
# Each target runs until N executions (default 1,000,000) or S seconds (default 600), whichever comes first.
# The growing corpus and any crash lives under $EMEND_HOME/fuzz/<target> (outside the work tree); the committed
# seeds are in Fuzz/corpus/<target>. --update-corpus merges the run's corpus into Fuzz/corpus (keeping only inputs
# that add coverage, at most 40 per target) and copies crash reproducers there as crash-*, for the replay test
# (`EmendFuzzTests`). --merge-only does that from the corpus of earlier runs, without fuzzing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
home=${EMEND_HOME:-$HOME/.cache/emend}
seconds=600 runs=1000000 update=0 mergeonly=0 keep=40 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --update-corpus) update=1; shift ;;
    --merge-only) update=1 mergeonly=1; shift ;;
    -h|--help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(gguf safetensors safetensors-index config tokenizer requests preset store-journal store-tensors editor)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (one of: ${all[*]})" >&2; exit 64; }
done

# The main package's build folder is left alone: the fuzzer build has its own (instrumented) objects.
build=${EMEND_FUZZ_BUILD:-$root/.build-fuzz}
(cd "$root/Fuzz" && swift build -c release --build-path "$build" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld 2>&1 | grep -v "Cannot export local symbol" >&2)
bin=$build/release/EmendFuzz

printf '%-18s %12s %9s %8s %8s %8s %s\n' target executions exec/s cov ft corpus findings
status=0
for t in "${targets[@]}"; do
  work=$home/fuzz/$t
  mkdir -p "$work/corpus" "$work/crashes"
  log=$work/last-run.log
  if [ $mergeonly -eq 0 ]; then
    # -rss_limit_mb: a parser that allocates what a 64 KiB input claims (not what it holds) is a finding.
    set +e
    LSAN_OPTIONS=suppressions=$root/Fuzz/lsan.supp SWIFT_BACKTRACE=enable=no EMEND_FUZZ_TARGET=$t "$bin" -runs="$runs" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/crashes/" "$work/corpus" "$root/Fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    corpus=$(ls "$work/corpus" | wc -l)
    crashes=$(ls "$work/crashes" | wc -l)
    if [ $rc -ne 0 ]; then status=1; found="FAILED (exit $rc): $(grep -m1 -E 'ERROR|==[0-9]+==|Fatal error' "$log" | cut -c1-120); see $log"
    elif [ "$crashes" -gt 0 ]; then found="$crashes file(s) in $work/crashes"
    else found=none; fi
    printf '%-18s %12s %9s %8s %8s %8s %s\n' "$t" "$execs" "$rate" "$cov" "$ft" "$corpus" "$found"
  fi
  if [ $update -eq 1 ]; then
    # A greedy set cover of the seeds and the run's corpus (the fewest inputs with all their coverage), at most
    # $keep of them, smallest first: the replay in `make test` must stay seconds and the repository small.
    rm -rf "$work/merged" && mkdir -p "$work/merged"
    LSAN_OPTIONS=suppressions=$root/Fuzz/lsan.supp SWIFT_BACKTRACE=enable=no EMEND_FUZZ_TARGET=$t "$bin" -set_cover_merge=1 \
      -max_len=65536 -rss_limit_mb=2048 -artifact_prefix="$work/crashes/" "$work/merged" \
      "$root/Fuzz/corpus/$t" "$work/corpus" >/dev/null 2>&1 || true
    find "$root/Fuzz/corpus/$t" -type f ! -name 'seed-*' ! -name 'crash-*' -delete
    seeds=$(cd "$root/Fuzz/corpus/$t" && sha1sum seed-* 2>/dev/null | cut -d' ' -f1)
    # (|| true: head closing the pipe early is not a failure.)
    n=$keep; [ "$t" = store-journal ] && n=10      # SQLite files are tens of KB each
    { ls -S -r "$work/merged" | grep -vxF "$seeds" | head -n "$n" || true; } | while read -r h; do cp "$work/merged/$h" "$root/Fuzz/corpus/$t/"; done
    for f in "$work/crashes"/*; do
      [ -e "$f" ] || continue
      cp -n "$f" "$root/Fuzz/corpus/$t/crash-$(basename "$f" | sed 's/^crash-//; s/^oom-//; s/^timeout-//; s/^leak-//')"
    done
  fi
done
exit $status
