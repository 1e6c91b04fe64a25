# Emend: the two set-up commands are `make demo` and `make test`; `make bench` prints the benchmarks.
# Every target first runs scripts/setup.sh, which installs only what is missing.
SWIFT ?= swift
# Numerical code runs optimised: debug Swift is 10-100x slower in tight loops.
RELEASE = -c release
# @testable imports in release builds.
TESTFLAGS = -Xswiftc -enable-testing

.PHONY: setup build demo test bench clean

setup:
	@./scripts/setup.sh

build: setup
	$(SWIFT) build $(RELEASE) --product emend

demo: build
	@./scripts/demo.sh

test: setup
	$(SWIFT) build $(RELEASE) $(TESTFLAGS) --build-tests
	$(SWIFT) test $(RELEASE) $(TESTFLAGS) --skip-build --disable-swift-testing

bench: setup
	$(SWIFT) build $(RELEASE) --product EmendBench
	$$($(SWIFT) build $(RELEASE) --show-bin-path)/EmendBench

clean:
	rm -rf .build
