#!/usr/bin/env bash
# Test runner: runs every unit and integration test binary of each build
# directory given (e.g. build/rel build/san), each in its own process with a
# time limit, counts TAP "ok"/"not ok" lines, and ends with "N passed, N failed".
# TESTS_ONLY=unit|integration|browser|bench|fuzz limits the kinds; TEST_FILTER=substring the names
# (several substrings separated by spaces: any of them).
set -u
cd "$(dirname "$0")/.."
out=tests/out
mkdir -p "$out"
passed=0
failed=0
failures=()
limit=${TEST_TIMEOUT:-600}
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}

run_one() { # build kind binary
    local build=$1 kind=$2 bin=$3 name log rc ok notok
    name="$(basename "$build")/$kind/$(basename "$bin")"
    log="$out/$(echo "$name" | tr / _).log"
    HOTLINE_BIN="$PWD/$build/bin" HOTLINE_TEST_OUT="$PWD/$out" \
        timeout -k 10 "$limit" "$bin" >"$log" 2>&1
    rc=$?
    ok=$(grep -cE '^ok [0-9]+' "$log")
    notok=$(grep -cE '^not ok [0-9]+' "$log")
    if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
        notok=1
        echo "not ok - $name exited with status $rc$([ $rc -eq 124 ] && echo ' (time limit)')" >>"$log"
    fi
    passed=$((passed + ok))
    failed=$((failed + notok))
    if [ "$notok" -gt 0 ]; then
        failures+=("$name (see $log)")
        printf '%-50s %3d ok  %3d FAILED\n' "$name" "$ok" "$notok"
        grep -E '^not ok|^# ' "$log" | head -20 | sed 's/^/    /'
    else
        printf '%-50s %3d ok\n' "$name" "$ok"
    fi
}

for build in "$@"; do
    for kind in unit integration; do
        [ -n "${TESTS_ONLY:-}" ] && [ "$TESTS_ONLY" != "$kind" ] && continue
        for bin in "$build"/tests/$kind/test_*; do
            [ -x "$bin" ] || continue
            case "$bin" in *.d|*.o) continue ;; esac
            if [ -n "${TEST_FILTER:-}" ]; then
                hit=0
                for f in $TEST_FILTER; do [[ "$bin" == *"$f"* ]] && hit=1; done
                [ $hit = 1 ] || continue
            fi
            run_one "$build" "$kind" "$bin"
        done
    done
done

# the browser tests (dashboard, handheld page), once, with the first build's
# binaries; they fail, never skip, when Chromium cannot be had
if { [ -z "${TESTS_ONLY:-}" ] || [ "$TESTS_ONLY" = browser ]; } &&
    { [ -z "${TEST_FILTER:-}" ] || [[ browser == *"$TEST_FILTER"* ]]; } && [ $# -gt 0 ]; then
    log="$out/browser.log"
    HOTLINE_BIN="$PWD/$1/bin" HOTLINE_TEST_OUT="$PWD/$out" timeout -k 10 "$limit" tests/browser/run.sh \
        >"$log" 2>&1
    rc=$?
    ok=$(grep -cE '^ok [0-9]+' "$log")
    notok=$(grep -cE '^not ok [0-9]+' "$log")
    [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ] && notok=1 && echo "not ok - browser tests exited with status $rc" >>"$log"
    passed=$((passed + ok))
    failed=$((failed + notok))
    printf '%-50s %3d ok%s\n' "browser (headless Chromium)" "$ok" "$([ "$notok" -gt 0 ] && echo "  $notok FAILED")"
    if [ "$notok" -gt 0 ]; then
        failures+=("browser (see $log)")
        grep -E '^not ok|^# ' "$log" | head -20 | sed 's/^/    /'
    fi
fi

# the benchmarks, briefly (make bench QUICK=1), with the first build's
# binaries: they must run and print their table. What they measure is never
# asserted here: a benchmark is not a timed test.
if { [ -z "${TESTS_ONLY:-}" ] || [ "$TESTS_ONLY" = bench ]; } &&
    { [ -z "${TEST_FILTER:-}" ] || [[ bench == *"$TEST_FILTER"* ]]; } && [ $# -gt 0 ] &&
    [ -x "$1/bench/hotline-bench" ]; then
    log="$out/bench-quick.log"
    timeout -k 10 "$limit" "$1/bench/hotline-bench" --quick --bin "$1/bin" --dir "$out/bench-quick" \
        >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -qE '^ +figure +measured' "$log" && [ "$(grep -cE '^B[1-5] ' "$log")" -ge 5 ]; then
        echo "ok 1 - bench --quick ran every benchmark and printed the table" >>"$log"
        passed=$((passed + 1))
        printf '%-50s %3d ok\n' "bench (quick)" 1
    else
        echo "not ok 1 - bench --quick exited with status $rc or printed no full table" >>"$log"
        failed=$((failed + 1))
        failures+=("bench (see $log)")
        printf '%-50s %3d ok  %3d FAILED\n' "bench (quick)" 0 1
        grep -E 'failed|^bench:' "$log" | head -20 | sed 's/^/    /'
    fi
fi

# the fuzz harnesses, briefly, when they were built (make test builds them)
if [ -z "${TESTS_ONLY:-}" ] || [ "$TESTS_ONLY" = fuzz ]; then
    fuzzers=()
    for f in build/fuzz/fuzz_*; do
        [[ $f == *.d ]] || fuzzers+=("$f") # the compiler's dependency lists lie beside them
    done
    if [ -x "${fuzzers[0]}" ]; then
        log="$out/fuzz.log"
        FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} tests/fuzz/run.sh "${fuzzers[@]}" >"$log" 2>&1
        ok=$(grep -cE '^ok [0-9]+' "$log")
        notok=$(grep -cE '^not ok [0-9]+' "$log")
        passed=$((passed + ok))
        failed=$((failed + notok))
        printf '%-50s %3d ok%s\n' "fuzz (smoke)" "$ok" "$([ "$notok" -gt 0 ] && echo "  $notok FAILED")"
        [ "$notok" -gt 0 ] && failures+=("fuzz (see $log)") && grep -E '^not ok|^# ' "$log" | sed 's/^/    /'
    fi
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "failed:"
    for f in "${failures[@]}"; do echo "  $f"; done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
