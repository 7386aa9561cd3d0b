#!/usr/bin/env bash
# Sets up a fresh machine and runs every test kiln has:
#   1. installs the Debian packages it needs (ci/setup.sh)
#   2. builds kiln and the test guest (meson, into ${KILN_BUILD:-build})
#   3. builds the Linux guest images from Debian packages (cached; guest-images/)
#   4. unit tests (criterion, via meson test)
#   5. fuzz smoke run and sanitizer unit tests, when the harness is present
#   6. integration tests (pytest): test guest, Linux kernel tier, user-space tier
#   7. the budget gate (ci/budget-gate.py against ci/budgets.json, kiln-probe)
# and ends with one summary line "N passed, N failed, N skipped".
# Tests that need /dev/kvm say SKIPPED loudly when it is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
export KILN_BUILD=${KILN_BUILD:-$PWD/build}
mkdir -p "$KILN_BUILD"
results=$KILN_BUILD/ci-results
rm -rf "$results" && mkdir -p "$results"
status=0

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
fail() { echo "!!! $*"; status=1; }

stage "setup"
bash ci/setup.sh || { echo "setup failed"; exit 1; }

stage "build"
bash ci/build.sh || { echo "build failed"; exit 1; }

stage "guest images"
if ! bash guest-images/build.sh kernel cloud initramfs rootfs; then
  fail "guest images did not build; the Linux tiers will skip loudly"
fi
bash guest-images/build.sh test || fail "guest-image script tests failed"

stage "unit tests"
meson test -C "$KILN_BUILD" --print-errorlogs --num-processes 2 || fail "unit tests failed"

if [ -x ci/fuzz-smoke.sh ]; then
  stage "fuzz smoke and sanitizer unit tests"
  bash ci/fuzz-smoke.sh || fail "fuzz smoke failed"
fi

stage "integration tests"
[ -e /dev/kvm ] || echo "!!! /dev/kvm is missing: every KVM test below will be SKIPPED (loudly)"
/usr/bin/python3 -m pytest integration -v -rs -p no:cacheprovider \
  --junitxml="$results/integration.xml" || fail "integration tests failed"

stage "budget gate"
# Boots the reference guests under kiln-probe and fails when a budget in
# ci/budgets.json is exceeded; 77 means the probes cannot run here (said loudly).
/usr/bin/python3 ci/budget-gate.py --json "$results/budget-gate.json"
case $? in
  0) ;;
  77) echo "!!! budget gate SKIPPED: BPF probes unavailable on this machine" ;;
  *) fail "budget gate: over budget, unmeasured or a boot failed (see above)" ;;
esac

stage "summary"
/usr/bin/python3 ci/summarize.py "$KILN_BUILD/meson-logs/testlog.json" "$results"/*.xml || status=1
exit $status
