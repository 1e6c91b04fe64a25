#!/usr/bin/env bash
# The main job on the default model.
set -euo pipefail
bin="$(swift build -c release --show-bin-path)/emend"
"$bin" env
