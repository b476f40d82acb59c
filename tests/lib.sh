# Shared helpers of the shell tests: PASS/FAIL lines like the C tests print.
failures=0
pass() { echo "PASS: $TEST_FILE $1"; }
fail() { echo "FAIL: $TEST_FILE $1"; shift; for l in "$@"; do echo "  $l" >&2; done; failures=$((failures + 1)); }
# check NAME COMMAND...: passes when the command succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
finish() { [ "$failures" -eq 0 ]; }
