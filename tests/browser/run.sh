#!/usr/bin/env bash
# Browser tests of the dashboard and the handheld page (tests/browser/run.js)
# in Debian's headless Chromium, driven by playwright-core from npm. Installs
# what is missing when it can (chromium and a CJK font with apt-get as root,
# playwright-core with npm ci from package-lock.json) and otherwise FAILS
# with the reason: these tests never pass by being skipped. Prints TAP.
set -u
cd "$(dirname "$0")"
chromium=${CHROMIUM:-/usr/bin/chromium}
debs="chromium fonts-wqy-zenhei"

fail() {
    echo "not ok 1 - browser tests cannot run: $1"
    echo "1..1"
    exit 1
}

missing=
[ -x "$chromium" ] || missing="$missing chromium"
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || missing="$missing fonts-wqy-zenhei"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "# installing:$missing" >&2
        apt-get install -y --no-install-recommends $debs >&2 ||
            { apt-get update >&2 && apt-get install -y --no-install-recommends $debs >&2; } ||
            fail "apt-get could not install$missing (no network?); run as root: apt-get update && apt-get install -y $debs"
    else
        fail "$missing not installed; run as root: apt-get update && apt-get install -y $debs (or make deps-browser)"
    fi
fi
[ -x "$chromium" ] || fail "no Chromium at $chromium"
command -v node >/dev/null || fail "node is not installed (Debian: apt-get install nodejs npm)"
if [ ! -f node_modules/playwright-core/package.json ]; then
    echo "# installing playwright-core (npm ci)" >&2
    npm ci --no-audit --no-fund >&2 || fail "npm ci failed: the npm registry must be reachable once to install playwright-core"
fi
exec node run.js
