#!/usr/bin/env python3
"""Writes the quantizer fixtures of GGUFQuantizeTests from gguf-py's reference quantizers, and the dequantizer
fixtures of GGUFDequantizeTests for the stored types Emend cannot quantise (Q2_K, Q3_K).

Emend's quantizers (Sources/EmendModels/Formats/GGUFQuantize.swift) must agree bit for bit with
`gguf.quants.quantize` for F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1. This script makes the truth:

  inputs.f32        CASES x 256 little-endian Float32 values (one case per row, named in manifest.json)
  <TYPE>.bin        the quantized bytes of all rows, rows in order (ggml block layout)
  manifest.json     the case names, the element count per case, the types, and the gguf/numpy versions

Run (once; the files are committed):
  python3 -m venv /tmp/gguf-venv && /tmp/gguf-venv/bin/python -m pip install gguf numpy
  /tmp/gguf-venv/bin/python scripts/make-quant-fixtures.py

Written with gguf 0.19.0 and numpy 2.4.6 (gguf-py has no K-quant quantizers in that version; the tests check
Q4_K, Q5_K and Q6_K by their round-trip error instead).

Dequantizer fixtures, in ../dequant beside quant/ (the truth in the other direction: random blocks, gguf-py's values):
  <TYPE>.bin        DEQUANT_BLOCKS random blocks (random quants and scale bytes; every half-precision d and dmin
                    finite, at most 2 in magnitude)
  <TYPE>.f32        gguf.quants.dequantize of those blocks: DEQUANT_BLOCKS x 256 little-endian Float32 values
  manifest.json     the block count, the types, and the gguf/numpy versions
"""

import json
import os
import sys
from importlib.metadata import version

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

N = 256  # elements per case: one K-quant super-block, eight 32-element blocks
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EmendModelsTests", "Fixtures", "quant")
TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
DEQUANT_OUT = os.path.join(OUT, "..", "dequant")
DEQUANT_BLOCKS = 16
# type: (bytes per block, byte offsets of its half-precision scales)
DEQUANT_TYPES = {"Q2_K": (84, [80, 82]), "Q3_K": (110, [108])}


def cases(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """The inputs: Gaussian weights and the edge cases a block quantizer can get wrong."""
    ramp = np.linspace(-1.0, 1.0, N)
    per_block_scale = np.repeat(10.0 ** np.arange(-4, 4, dtype=np.float64), 32)
    halves = np.tile(np.arange(-8, 8, dtype=np.float64) + 0.5, N // 16) / 8  # values landing on .5 after scaling
    with_zeros = rng.normal(0, 1, N)
    with_zeros[::3] = 0
    return [
        ("gaussian", rng.normal(0, 0.02, N)),
        ("gaussian-unit", rng.normal(0, 1, N)),
        ("zeros", np.zeros(N)),
        ("all-equal", np.full(N, 0.3)),
        ("all-equal-negative", np.full(N, -1.7)),
        ("huge", rng.normal(0, 1, N) * 1e30),
        ("tiny", rng.normal(0, 1, N) * 1e-30),
        ("negative-only", -np.abs(rng.normal(0, 1, N)) - 0.1),
        ("positive-only", np.abs(rng.normal(0, 1, N)) + 0.1),
        ("ramp", ramp),
        ("per-block-scale", rng.normal(0, 1, N) * per_block_scale),
        ("halves", halves),
        ("with-zeros", with_zeros),
        ("outlier", np.concatenate([rng.normal(0, 0.01, N - 1), [5.0]])),
        ("beyond-half-range", rng.normal(0, 1, N) * 1e5),
    ]


def main() -> int:
    rng = np.random.default_rng(20261207)
    named = cases(rng)
    data = np.stack([x.astype(np.float32) for _, x in named])  # [CASES, N]
    os.makedirs(OUT, exist_ok=True)
    data.astype("<f4").tofile(os.path.join(OUT, "inputs.f32"))
    with np.errstate(all="ignore"):  # huge/tiny cases overflow or flush to zero in float16, as in ggml
        for name in TYPES:
            q = quantize(data, T[name])
            np.ascontiguousarray(q).view(np.uint8).tofile(os.path.join(OUT, f"{name}.bin"))
    write_manifest(OUT, {"elementsPerCase": N, "cases": [n for n, _ in named], "types": TYPES})
    write_dequant_fixtures(np.random.default_rng(20261207))
    return 0


def write_dequant_fixtures(rng: np.random.Generator) -> None:
    os.makedirs(DEQUANT_OUT, exist_ok=True)
    for name, (size, halves) in DEQUANT_TYPES.items():
        blocks = rng.integers(0, 256, size=(DEQUANT_BLOCKS, size), dtype=np.uint8)
        for offset in halves:
            scale = rng.uniform(-2, 2, DEQUANT_BLOCKS).astype("<f2")
            blocks[:, offset:offset + 2] = scale.view(np.uint8).reshape(DEQUANT_BLOCKS, 2)
        values = dequantize(blocks.reshape(-1), T[name]).astype("<f4").reshape(-1)
        assert values.size == DEQUANT_BLOCKS * 256 and np.isfinite(values).all()
        blocks.tofile(os.path.join(DEQUANT_OUT, f"{name}.bin"))
        values.tofile(os.path.join(DEQUANT_OUT, f"{name}.f32"))
    write_manifest(DEQUANT_OUT, {"blocks": DEQUANT_BLOCKS, "elementsPerBlock": 256, "types": list(DEQUANT_TYPES)})


def write_manifest(folder: str, fields: dict) -> None:
    manifest = {"generator": "scripts/make-quant-fixtures.py", "gguf": version("gguf"), "numpy": np.__version__}
    manifest.update(fields)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
