# Emend: the two set-up commands are `make demo` and `make test`; `make bench` prints the benchmarks.
# Every target first runs scripts/setup.sh, which installs only what is missing; `make test` also has it fetch the
# named model gemma3-270m (about 250 MB, once) for the tests that need it. `make demo` does not.
SWIFT ?= swift
# Numerical code runs optimised: debug Swift is 10-100x slower in tight loops.
RELEASE = -c release
# @testable imports in release builds.
TESTFLAGS = -Xswiftc -enable-testing

.PHONY: setup setup-test build demo test bench bench-sequential fuzz serve-checks clean

setup:
	@./scripts/setup.sh

setup-test:
	@./scripts/setup.sh --with gemma3-270m

build: setup
	$(SWIFT) build $(RELEASE) --product emend

demo: build
	@./scripts/demo.sh

test: setup-test
	$(SWIFT) build $(RELEASE) $(TESTFLAGS) --build-tests
	$(SWIFT) test $(RELEASE) $(TESTFLAGS) --skip-build --disable-swift-testing

# make bench BASELINE=e9ca710 also times that commit's build (in .build-baseline/) in the same run.
# make bench BENCH="models weights" runs those groups only; BENCH=scale the opt-in 1B/8B group (tens of minutes,
# 14 GB of random models written once; EMEND_SCALE_MODELS=8b-q4_k_m picks models), BENCH=state the F = 14,336 solve.
BASELINE ?=
BENCH ?=
bench: setup
	$(SWIFT) build $(RELEASE) --product EmendBench
	@if [ -n "$(BASELINE)" ]; then \
		EMEND_BENCH_BASELINE="$$(./scripts/build-baseline.sh $(BASELINE))" EMEND_BENCH_BASELINE_LABEL=$(BASELINE) \
			$$($(SWIFT) build $(RELEASE) --show-bin-path)/EmendBench $(BENCH); \
	else $$($(SWIFT) build $(RELEASE) --show-bin-path)/EmendBench $(BENCH); fi

# The lifelong protocol (ENCORE paper): long runs, hours on a CPU. Resumable: re-run the same line to continue.
# make bench-sequential SEQ_METHOD=memit SEQ_EDITS=2000 SEQ_EVERY=500
# The run lives outside the work tree, in $EMEND_HOME/runs/memit-2000 (with a frozen copy of the binary), so a new
# checkout or a machine handed on resumes it; scripts/run-sequential.sh --publish memit-2000 copies its
# results.json and report.html into results/sequential/ for committing.
SEQ_METHOD ?= encore
SEQ_EDITS ?= 2000
SEQ_EVERY ?= 500
SEQ_FLAGS ?=
bench-sequential: build
	./scripts/run-sequential.sh $(SEQ_METHOD)-$(SEQ_EDITS) --method $(SEQ_METHOD) --edits $(SEQ_EDITS) \
		--batch 100 --downstream-every $(SEQ_EVERY) --eval-ratio 0.2 $(SEQ_FLAGS)

# libFuzzer + AddressSanitizer over every parser of untrusted bytes: each target to 1,000,000 executions or
# FUZZ_SECONDS, whichever comes first; a table of executions, coverage and findings. The committed corpora in
# Fuzz/corpus are replayed by `make test` (EmendFuzzTests). make fuzz FUZZ_SECONDS=60 FUZZ_FLAGS="gguf tokenizer"
FUZZ_SECONDS ?= 600
FUZZ_FLAGS ?=
fuzz: setup
	./scripts/fuzz.sh --seconds $(FUZZ_SECONDS) $(FUZZ_FLAGS)

# `emend serve` by hand, on the default model (minutes each; `make test` runs the short server tests): the official
# `openai` Python package (in a venv), 8 clients for 60 s while edits apply, SIGKILL during edit batches, the dashboard
# in headless Chromium (Debian's `chromium`).
serve-checks: build
	./scripts/check-openai-client.sh
	./scripts/serve-load-check.sh
	./scripts/serve-crash-check.sh
	./scripts/check-dashboard.sh

clean:
	rm -rf .build
