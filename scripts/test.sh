#!/usr/bin/env bash
# The project's test command (README Quick start and .ci/run both call it).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test -count=1 -timeout 12m ./...
