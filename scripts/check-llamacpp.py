"""Helper of scripts/check-llamacpp.sh (read its header first). Run with the llama.cpp venv's python.

Subcommands (each prints or writes JSON so the shell script stays a plain loop):
  backend                                   which llama.cpp binding loads, and its version
  prompts REQUESTS N OUT.json               the first N requests as {prompt, target} (subject filled in)
  llamacpp-complete MODEL PROMPTS NTOK OUT  greedy continuations in llama.cpp (2 threads)
  emend-complete EMEND MODEL PROMPTS NTOK OUT   the same with `emend generate`
  long-prompt EMEND MODEL OUT.txt           a prose prompt of 512 tokens for the prompt-processing speed
  llamacpp-speed MODEL PROMPT.txt OUT       prompt processing and generation tokens/s in llama.cpp
  emend-speed EMEND MODEL PROMPT.txt OUT    the same for Emend, from timed `emend generate` runs
  report DIR UNEDITED EDITED TYPES...       score the continuations, print both tables, write DIR/llamacpp-check.md

llama.cpp is reached through the first binding that imports: xllamacpp (prebuilt wheel; it embeds llama-server,
whose completion handler we call in-process; the server also listens on a free 127.0.0.1 port, unused here), else
llama-cpp-python (built from source). The environment variable LLAMACPP_BACKEND=xllamacpp|llama_cpp forces one.
"""
import json
import os
import subprocess
import sys
import time

THREADS = 2
N_CTX = 1024
PP_TOKENS = 512      # the prompt-processing prompt is cut to this many tokens (Emend's tokenizer)
TG_TOKENS = 64       # new tokens for the generation speed
REPEATS = 3          # each speed is the best of this many runs: the machine is shared, the best run is the least disturbed
SHORT_PROMPT = "Once upon a time"
PARAGRAPH = ("The history of the city begins with a small settlement on the bank of the river, where traders "
             "stopped to rest and exchange goods. Over the centuries the settlement grew into a market town, then "
             "into a regional capital with a cathedral, a university and a busy port. ")


# ---------------------------------------------------------------- llama.cpp bindings

def backend_name():
    forced = os.environ.get("LLAMACPP_BACKEND")
    for name in ([forced] if forced else ["xllamacpp", "llama_cpp"]):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    sys.exit("check-llamacpp.py: neither xllamacpp nor llama_cpp imports in " + sys.executable)


def backend_version(name):
    mod = __import__(name)
    if name == "xllamacpp":
        info = mod.BUILD_INFO  # the wheel leaves llama.cpp's build number 0 and its commit "unknown"
        return "xllamacpp %s (llama.cpp build %s, commit %s, %s)" % (
            mod.__version__, info.get("build_number"), info.get("commit"), info.get("compiler"))
    return "llama-cpp-python %s" % mod.__version__


class XLlamaCpp:
    """xllamacpp: llama-server's code in-process. Completion requests are dicts in the server's JSON shape, and the
    answer carries the server's own timings (prompt_per_second, predicted_per_second)."""

    def __init__(self, model):
        import xllamacpp as x
        p = x.CommonParams()
        p.model.path = model
        p.n_ctx = N_CTX
        p.n_parallel = 1
        p.n_gpu_layers = 0
        p.cpuparams.n_threads = THREADS
        p.cpuparams_batch.n_threads = THREADS
        p.verbosity = -1
        self.server = x.Server(p)

    def complete(self, prompt, n_tokens, ignore_eos=False):
        r = self.server.handle_completions({
            "prompt": prompt, "n_predict": n_tokens, "temperature": 0.0, "top_k": 1,
            "cache_prompt": False, "ignore_eos": ignore_eos})
        if "choices" not in r:
            raise RuntimeError("llama.cpp completion failed: %s" % json.dumps(r)[:500])
        t = r["timings"]
        return r["choices"][0]["text"], (t["prompt_n"], t["prompt_ms"] / 1e3), (t["predicted_n"], t["predicted_ms"] / 1e3)


class LlamaCppPython:
    """llama-cpp-python: the Llama class; timings from llama.cpp's own perf counters (reset per call)."""

    def __init__(self, model):
        import llama_cpp
        self.lib = llama_cpp
        self.llm = llama_cpp.Llama(model_path=model, n_ctx=N_CTX, n_threads=THREADS, n_threads_batch=THREADS,
                                   n_gpu_layers=0, verbose=False)

    def complete(self, prompt, n_tokens, ignore_eos=False):
        self.llm.reset()  # no prompt reuse between calls, as cache_prompt=false for xllamacpp
        ctx = self.llm._ctx.ctx
        self.lib.llama_perf_context_reset(ctx)
        logit_bias = {self.llm.token_eos(): -1e9} if ignore_eos else None
        r = self.llm.create_completion(prompt, max_tokens=n_tokens, temperature=0.0, top_k=1,
                                       logit_bias=logit_bias)
        perf = self.lib.llama_perf_context(ctx)
        return (r["choices"][0]["text"], (perf.n_p_eval, perf.t_p_eval_ms / 1e3), (perf.n_eval, perf.t_eval_ms / 1e3))


def load_llamacpp(model):
    return XLlamaCpp(model) if backend_name() == "xllamacpp" else LlamaCppPython(model)


# ---------------------------------------------------------------- records and scoring

def request_prompt(r):
    """(prompt with the subject filled in, new target) for the three request forms `emend edit` reads."""
    if "requested_rewrite" in r:
        rw = r["requested_rewrite"]
        return rw["prompt"].replace("{}", rw["subject"]), rw["target_new"]["str"]
    if "src" in r:
        return r["src"], r.get("alt") or r["answers"][0]
    return r["prompt"].replace("{}", r.get("subject", "")), r["target_new"]


def first_word(text):
    """The first whitespace-separated word that has a letter or digit, lower-cased, punctuation removed."""
    for word in text.split():
        word = "".join(c for c in word if c.isalnum()).lower()
        if word:
            return word
    return ""


def cmd_prompts(path, n, out):
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
        data = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:  # JSONL
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = [dict(zip(("prompt", "target"), request_prompt(r))) for r in data[:int(n)]]
    json.dump(rows, open(out, "w"), indent=1)
    print(len(rows))  # fewer than asked where the file is short (the demo's 3 facts)


# ---------------------------------------------------------------- continuations

def cmd_llamacpp_complete(model, prompts, n_tokens, out):
    llm = load_llamacpp(model)
    rows = json.load(open(prompts))
    conts = [llm.complete(r["prompt"], int(n_tokens))[0] for r in rows]
    json.dump(conts, open(out, "w"), indent=1)


def emend_generate(emend, model, prompt, n_tokens):
    """`emend generate` prints the prompt and its continuation; returns the continuation."""
    out = subprocess.run([emend, "generate", "--model", model, "--max-tokens", str(n_tokens), "--", prompt],
                         check=True, capture_output=True, text=True).stdout.rstrip("\n")
    return out[len(prompt):] if out.startswith(prompt) else out


def cmd_emend_complete(emend, model, prompts, n_tokens, out):
    rows = json.load(open(prompts))
    json.dump([emend_generate(emend, model, r["prompt"], n_tokens) for r in rows], open(out, "w"), indent=1)


# ---------------------------------------------------------------- speed

def emend_tokens(emend, model, text):
    out = subprocess.run([emend, "tokenize", "--model", model, "--json", "--", text],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def long_prompt(emend, model):
    """A prose prompt of PP_TOKENS tokens by Emend's tokenizer: the paragraph repeated, cut after that many pieces
    (byte-level BPE pieces of plain ASCII text join back to the text with Ġ as the space)."""
    pieces = emend_tokens(emend, model, PARAGRAPH * 12)["pieces"][:PP_TOKENS]
    return "".join(pieces).replace("\u0120", " ")


def cmd_long_prompt(emend, model, out):
    with open(out, "w") as f:
        f.write(long_prompt(emend, model))


def cmd_llamacpp_speed(model, prompt_file, out):
    prompt = open(prompt_file).read()
    llm = load_llamacpp(model)
    llm.complete(SHORT_PROMPT, 4)  # warm-up: first-touch of the weights, thread pool start
    pp = max((llm.complete(prompt, 1)[1] for _ in range(REPEATS)), key=lambda t: t[0] / t[1])
    tg = max((llm.complete(SHORT_PROMPT, TG_TOKENS, ignore_eos=True)[2] for _ in range(REPEATS)),
             key=lambda t: t[0] / t[1])
    json.dump({"pp_tokens": pp[0], "pp_tps": pp[0] / pp[1], "tg_tokens": tg[0], "tg_tps": tg[0] / tg[1]},
              open(out, "w"))


def timed_generate(emend, model, prompt, n_tokens):
    """Best wall time of REPEATS runs of `emend generate`, and its output."""
    best = None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        text = emend_generate(emend, model, prompt, n_tokens)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, text


def cmd_emend_speed(emend, model, prompt_file, out):
    """Emend prints no timings, so each speed is a difference of wall times, which cancels the load time:
    pp = (long prompt − short prompt tokens) / (t[long prompt, 1 new token] − t[short prompt, 1 new token]);
    tg = (new tokens − 1) / (t[short prompt, 1+64 new tokens] − t[short prompt, 1 new token])."""
    prompt = open(prompt_file).read()
    n_long = len(emend_tokens(emend, model, prompt)["ids"])
    n_short = len(emend_tokens(emend, model, SHORT_PROMPT)["ids"])
    emend_generate(emend, model, SHORT_PROMPT, 1)  # warm-up: page cache
    t_short, _ = timed_generate(emend, model, SHORT_PROMPT, 1)
    t_long, _ = timed_generate(emend, model, prompt, 1)
    t_gen, text = timed_generate(emend, model, SHORT_PROMPT, 1 + TG_TOKENS)
    # Tokens actually generated (it may stop at an end-of-text token): the output re-tokenized, less the prompt.
    n_new = len(emend_tokens(emend, model, SHORT_PROMPT + text)["ids"]) - n_short
    json.dump({"pp_tokens": n_long, "pp_tps": (n_long - n_short) / (t_long - t_short),
               "tg_tokens": n_new - 1, "tg_tps": (n_new - 1) / (t_gen - t_short),
               "load_s": t_short}, open(out, "w"))


# ---------------------------------------------------------------- report

def hits(rows, conts):
    return sum(first_word(c) == first_word(r["target"]) for r, c in zip(rows, conts))


def load_json(path):
    """The JSON a step wrote, or None where that step failed (llama.cpp could not load the file)."""
    return json.load(open(path)) if os.path.exists(path) else None


def cmd_report(d, unedited, edited, *types):
    rows = json.load(open(os.path.join(d, "prompts.json")))
    n = len(rows)
    lines = ["| type | file MB | llama.cpp first-word hits | Emend first-word hits |", "|---|---|---|---|"]
    failed = []
    for t in types:
        size = os.path.getsize(os.path.join(d, "edited-%s.gguf" % t)) / 1e6
        llama = load_json(os.path.join(d, "llamacpp-%s.json" % t))
        emend = load_json(os.path.join(d, "emend-%s.json" % t))
        h_e = hits(rows, emend)
        if llama is None:
            lines.append("| %s | %.1f | load failed | %d / %d |" % (t, size, h_e, n))
            failed.append(t + " (llama.cpp could not load it)")
            continue
        h_l = hits(rows, llama)
        lines.append("| %s | %.1f | %d / %d | %d / %d |" % (t, size, h_l, n, h_e, n))
        if h_l < h_e - 1:
            failed.append(t + " (llama.cpp %d < Emend %d - 1)" % (h_l, h_e))
    lines += ["", "| model file | engine | prompt processing tokens/s (prompt tokens) "
              "| generation tokens/s (new tokens) |", "|---|---|---|---|"]
    for label, name in (("unedited", unedited), ("edited", edited)):
        for engine in ("llamacpp", "emend"):
            s = load_json(os.path.join(d, "speed-%s-%s.json" % (engine, label)))
            cells = ("%.1f (%d)" % (s["pp_tps"], s["pp_tokens"]), "%.1f (%d)" % (s["tg_tps"], s["tg_tokens"])) \
                if s else ("failed", "failed")
            lines.append("| %s | %s | %s | %s |" % ((name, {"llamacpp": "llama.cpp", "emend": "Emend"}[engine]) + cells))
            if s is None:
                failed.append("%s speed on %s" % (engine, name))
    load = open(os.path.join(d, "loadavg.txt")).read().split()[:3]
    lines += ["", "Load average (1, 5, 15 min) before the speed runs: %s (the machine's other work shares the cores)."
              % ", ".join(load)]
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(d, "llamacpp-check.md"), "w") as f:
        f.write(table + "\n")
    if failed:
        print("FAIL: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "backend":
        print(backend_version(backend_name()))
    elif cmd == "prompts":
        cmd_prompts(*args)
    elif cmd == "llamacpp-complete":
        cmd_llamacpp_complete(*args)
    elif cmd == "emend-complete":
        cmd_emend_complete(*args)
    elif cmd == "long-prompt":
        cmd_long_prompt(*args)
    elif cmd == "llamacpp-speed":
        cmd_llamacpp_speed(*args)
    elif cmd == "emend-speed":
        cmd_emend_speed(*args)
    elif cmd == "report":
        cmd_report(*args)
    else:
        sys.exit("check-llamacpp.py: unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
