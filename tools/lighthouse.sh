#!/usr/bin/env bash
# Lighthouse (mobile) on the citizen portal's pages with Debian's Chromium:
#   tools/lighthouse.sh http://127.0.0.1:8080 [path ...]
# (default paths: / and /account). Lighthouse itself comes from npm with npx
# at the version pinned here; reports go to web/e2e/artifacts/lighthouse.
set -euo pipefail
base=${1:-http://127.0.0.1:8080}; shift || true
paths=("$@"); ((${#paths[@]})) || paths=(/ /account)
out="$(dirname "$0")/../web/e2e/artifacts/lighthouse"; mkdir -p "$out"
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync"
for p in "${paths[@]}"; do
  name=$(echo "$p" | tr '/' '_'); report="$out/report${name}.json"
  CHROME_PATH=${CHROMIUM:-/usr/bin/chromium} npx --yes lighthouse@13.5.0 "$base$p" --form-factor=mobile \
    --only-categories=performance,accessibility,best-practices --chrome-flags="$flags" \
    --output=json --output-path="$report" --quiet
  node -e 'const r=require(process.argv[1]);const a=r.audits;console.log(`${process.argv[2]}: performance ${Math.round(r.categories.performance.score*100)}, accessibility ${Math.round(r.categories.accessibility.score*100)}, best practices ${Math.round(r.categories["best-practices"].score*100)} (FCP ${a["first-contentful-paint"].displayValue}, LCP ${a["largest-contentful-paint"].displayValue}, TBT ${a["total-blocking-time"].displayValue}, CLS ${a["cumulative-layout-shift"].displayValue}; CPU benchmark index ${r.environment.benchmarkIndex})`)' "$(realpath "$report")" "$p"
done
