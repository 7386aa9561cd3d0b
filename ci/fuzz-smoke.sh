#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with clang in build-fuzz/ and
# runs each for ${FUZZ_SMOKE_SECONDS:-30} seconds (up to nproc at a time),
# starting from its seeds and kept reproducers; then runs the unit tests once
# under ASan+UBSan (gcc, build-asan/), and builds kiln under TSan (build-tsan/)
# for the integration suite.  Fails on any crash, leak, timeout, OOM or
# sanitizer report.  One summary line per target.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SMOKE_SECONDS:-30}
build=${FUZZ_BUILD:-build-fuzz}
asan_build=${ASAN_BUILD:-build-asan}
# Options for targets that need them; any other target gets fuzz/dict/<target>.dict if present.
declare -A dicts=([kernel_loader]=kernel.dict [config]=json.dict)
declare -A max_len=([kernel_loader]=16384)

# Build steps print their output only when they fail.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out"
    echo "fuzz-smoke: '$*' failed" >&2
    exit 1
  fi
}

if [ ! -f "$build/build.ninja" ]; then
  quiet env CC=clang timeout 900 meson setup "$build" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized
fi
# Every fuzz_<target> fuzz/meson.build defines.
quiet timeout 900 ninja -C "$build" build.ninja
mapfile -t targets < <(timeout 120 meson introspect "$build" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz_") and t["defined_in"].endswith("/fuzz/meson.build"):
        print(t["name"][5:])')
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz-smoke: no fuzz targets in $build" >&2; exit 1; }
quiet timeout 1800 ninja -C "$build" "${targets[@]/#/fuzz/fuzz_}"

smoke_one() {
  local t=$1 work="$build/fuzz-smoke/$1" rc=0 args=()
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  local dict=${dicts[$t]:-$t.dict} dirs=("$work/corpus")
  [ -f "fuzz/dict/$dict" ] && args+=("-dict=fuzz/dict/$dict")
  [ -n "${max_len[$t]:-}" ] && args+=("-max_len=${max_len[$t]}")
  for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do [ -d "$d" ] && dirs+=("$d"); done
  # New inputs go to the scratch corpus (first directory); seeds are read only.
  timeout $((secs + 300)) "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${args[@]}" \
    "${dirs[@]}" >"$work/log" 2>&1 || rc=$?
  echo "$rc" >"$work/rc"
}

# Up to nproc targets at once.
jobs=$(nproc)
running=0
for t in "${targets[@]}"; do
  smoke_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  work="$build/fuzz-smoke/$t"
  rc=$(cat "$work/rc")
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
  artifacts=$(find "$work/artifacts" -type f | wc -l)
  if [ "$rc" != 0 ] || [ "$artifacts" != 0 ] ||
     grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' "$work/log"; then
    what=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z -]+|runtime error: .*|invariant failed: .*' "$work/log" || echo "exit $rc")
    printf 'fuzz-smoke: %-14s FAIL  %s (log: %s/log)\n' "$t" "$what" "$work"
    failed=1
  else
    printf 'fuzz-smoke: %-14s ok  %4ss %9s runs %7s exec/s  cov %4s  corpus %4s\n' \
      "$t" "$secs" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${corp:-?}"
  fi
done

# The unit tests (and the fuzz replays) once under ASan+UBSan.
if [ ! -f "$asan_build/build.ninja" ]; then
  quiet timeout 900 meson setup "$asan_build" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all --buildtype=debug
fi
quiet timeout 1800 ninja -C "$asan_build"
if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
   timeout 1800 meson test -C "$asan_build" --print-errorlogs >"$asan_build/fuzz-smoke-test.log" 2>&1; then
  echo "fuzz-smoke: unit tests under ASan+UBSan ok ($(grep -m1 -E '^Ok:' "$asan_build/fuzz-smoke-test.log" | tr -s ' '))"
else
  grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' "$asan_build/fuzz-smoke-test.log" | sort -u || true
  echo "fuzz-smoke: unit tests under ASan+UBSan FAILED (log: $asan_build/fuzz-smoke-test.log)"
  failed=1
fi
# kiln alone under ThreadSanitizer, for the integration suite's multi-vCPU
# hostile guest (test_hostile.py): a data race between the vCPU threads and
# the VMM thread fails that test.
tsan_build=${TSAN_BUILD:-build-tsan}
if [ ! -f "$tsan_build/build.ninja" ]; then
  quiet timeout 900 meson setup "$tsan_build" -Db_sanitize=thread -Dtests=disabled --buildtype=debugoptimized
fi
quiet timeout 1800 ninja -C "$tsan_build" vmm/core/kiln
echo "fuzz-smoke: kiln built under TSan ($tsan_build/vmm/core/kiln)"
exit "$failed"
