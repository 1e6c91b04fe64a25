#!/usr/bin/env bash
# By hand, not part of `make test`: checks that an exported safetensors folder loads in Hugging Face
# transformers and generates text. It creates its own Python environment (CPU-only torch) on first use.
#
#   scripts/check-safetensors-export.sh FOLDER [PROMPT]
#
# FOLDER comes from `emend store export DIR --format safetensors --out FOLDER` (or `emend edit --out FOLDER`).
# The tokenizer is not part of Emend's export; the script copies `tokenizer.json` from $TOKENIZER_DIR when set,
# otherwise it builds a GPT-2-style fast tokenizer from the GGUF named by $GGUF (transformers' GGUF reader).
# Environment: VENV (default ~/.cache/emend/venv-hf-check); TORCH_INDEX_URL, a package index with CPU-only
# torch wheels (smaller), if you have one.
set -euo pipefail

folder="${1:?usage: scripts/check-safetensors-export.sh FOLDER [PROMPT]}"
prompt="${2:-The Eiffel Tower is located in the city of}"
VENV="${VENV:-$HOME/.cache/emend/venv-hf-check}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "check: creating $VENV (transformers + torch; large, once)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$VENV/bin/python" -m pip install --quiet --index-url "$TORCH_INDEX_URL" torch
  else
    "$VENV/bin/python" -m pip install --quiet torch
  fi
  "$VENV/bin/python" -m pip install --quiet transformers safetensors gguf sentencepiece
fi

FOLDER="$folder" PROMPT="$prompt" GGUF="${GGUF:-$HOME/.cache/emend/models/SmolLM2-135M-Instruct.Q4_1.gguf}" \
TOKENIZER_DIR="${TOKENIZER_DIR:-}" "$VENV/bin/python" - <<'PY'
import os, shutil, sys, json
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

folder, prompt = os.environ["FOLDER"], os.environ["PROMPT"]
tok_dir = os.environ.get("TOKENIZER_DIR") or ""
if tok_dir:
    tok = AutoTokenizer.from_pretrained(tok_dir)
else:
    gguf = os.environ["GGUF"]
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
try:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
except TypeError:  # transformers before `dtype` was accepted
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
model.eval()
cfg = model.config
print(f"loaded {folder}: {cfg.architectures} layers={cfg.num_hidden_layers} hidden={cfg.hidden_size} "
      f"params={sum(p.numel() for p in model.parameters())/1e6:.1f}M")
ids = tok(prompt, return_tensors="pt").input_ids
with torch.no_grad():
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
text = tok.decode(out[0][ids.shape[1]:], skip_special_tokens=True)
print(f"{prompt!r} -> {text!r}")
if not text.strip():
    sys.exit("check: empty generation")
print("check: ok")
PY
