#!/usr/bin/env bash
# Run each libFuzzer binary given for FUZZ_SECONDS over a scratch copy of its
# seed corpus (tests/fuzz/corpus/NAME) after replaying every kept crash input
# (tests/fuzz/regressions/NAME). Prints TAP; a new crash input is saved under
# tests/out/fuzz/ (FUZZ_OUT) for inspection and kept as a regression once fixed.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-5}
n=0
rc_all=0
for bin in "$@"; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    n=$((n + 1))
    work=${FUZZ_OUT:-tests/out/fuzz}/$name
    rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
    cp tests/fuzz/corpus/"$name"/* "$work/corpus/" 2>/dev/null
    log=$work/fuzz.log
    regs=tests/fuzz/regressions/$name
    ok=1
    if [ -d "$regs" ] && [ -n "$(ls -A "$regs" 2>/dev/null)" ]; then
        "$bin" "$regs"/* >"$work/regressions.log" 2>&1 || ok=0
    fi
    if [ $ok = 1 ]; then
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
            -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || ok=0
    fi
    if [ $ok = 1 ]; then
        runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
        echo "ok $n - fuzz_$name (${runs:-?} runs in ${secs}s)"
    else
        echo "not ok $n - fuzz_$name: crash or failure, see $work"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" "$work/regressions.log" 2>/dev/null | head -5 | sed 's/^/# /'
        rc_all=1
    fi
done
exit $rc_all
