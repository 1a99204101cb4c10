#!/usr/bin/env bash
# Runs every Fuzz target of every package for a short time (default 3s each).
#
# Go 1.26's fuzz coordinator can end a clean run with "context deadline
# exceeded" at the -fuzztime boundary (golang/go#75804, fixed in Go 1.27):
# no input failed, nothing is written to testdata/fuzz. Such a run is
# retried, up to twice; a run that names a failing input, panics or fails
# any other way fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake reports whether the log is the coordinator's race and
# nothing else.
deadline_flake() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -q -e 'Failing input written' -e '^panic:' -e '_test.go:[0-9]*:' "$log"
}

for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz $pkg $f"
		for try in 1 2 3; do
			if go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg" >"$log" 2>&1; then
				break
			fi
			if deadline_flake && [ "$try" -lt 3 ]; then
				echo "  the fuzz coordinator's deadline race (golang/go#75804), no failing input: again"
				continue
			fi
			cat "$log"
			exit 1
		done
	done
done
