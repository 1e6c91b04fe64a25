#!/usr/bin/env python3
"""Checks `emend init-model` files with gguf-py, an independent GGUF reader and dequantizer.

Two files from the same config and seed, one `--type f32` and one quantized, hold the same random values before
quantization. This reads both with gguf.GGUFReader, dequantizes every tensor of the second with
gguf.quants.dequantize, and prints each type's relative RMS error against the F32 values (Gaussian weights:
Q4_K ≈ 0.072, Q6_K ≈ 0.018, Q8_0 ≈ 0.0054, BF16 ≈ 0.0017); for the types gguf-py can quantize (Q8_0, Q4_0, Q4_1,
Q5_0, Q5_1, BF16, F16) it also checks that gguf-py quantizes the F32 values to the very same bytes.

  emend init-model --config c.json --type f32 --seed 1 --out a.gguf
  emend init-model --config c.json --type q4_k_m --seed 1 --out b.gguf
  python3 scripts/check-init-model.py a.gguf b.gguf      (needs: pip install gguf numpy)
"""

import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf.quants import dequantize, quantize

REQUANTIZABLE = {T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.BF16, T.F16}


def main(f32_path: str, quant_path: str) -> int:
    ref = {t.name: np.array(t.data, dtype=np.float32).reshape(-1) for t in GGUFReader(f32_path).tensors}
    errors: dict[str, list[float]] = {}
    mismatches = 0
    for t in GGUFReader(quant_path).tensors:
        x = ref[t.name]
        y = dequantize(t.data, t.tensor_type).reshape(-1)
        errors.setdefault(t.tensor_type.name, []).append(float(np.sqrt(np.mean((y - x) ** 2) / max(np.mean(x ** 2), 1e-30))))
        if t.tensor_type in REQUANTIZABLE:
            q = np.asarray(quantize(x.reshape(-1, int(t.shape[0])), t.tensor_type)).reshape(-1).view(np.uint8)
            if not np.array_equal(q, np.asarray(t.data).reshape(-1).view(np.uint8)):
                print(f"{t.name}: {t.tensor_type.name} bytes differ from gguf-py's")
                mismatches += 1
    for name, e in sorted(errors.items()):
        print(f"{name}: {len(e)} tensors, relative RMS error {min(e):.4f}…{max(e):.4f}")
    print("re-quantization: " + ("all bytes equal gguf-py's" if mismatches == 0 else f"{mismatches} tensors differ"))
    return 1 if mismatches else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
