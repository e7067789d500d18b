#!/usr/bin/env bash
# Lighthouse scores of every page of the built site.
#
#   nox -s docs && bash benchmarks/lighthouse.sh [RUNS [PAGE...]]
#
# PAGE is a path under docs/_build/html (index.html, auto_examples/plot_01_whole_vs_stepwise.html);
# without one, every HTML page of the site is scored.
# Installs lighthouse@12.2.3 from npm into benchmarks/.lighthouse/ (git-ignored;
# 13 wants Node 22), serves docs/_build/html from 127.0.0.1 and runs Lighthouse
# RUNS times (default 1) per page on Debian's chromium, with every host name
# but 127.0.0.1 unresolvable, as a reader without network would load the site.
# Lighthouse's default is a mid-range phone on a throttled connection
# (simulated), so scores are comparable between machines only roughly: compare
# runs made on the same machine. Prints, for each page, the median performance
# score with its spread, the accessibility, best-practices and SEO scores, and
# the page's weight (every byte it loads, KiB) and DOM size (elements), then
# the metrics the performance score is made of (simulated, milliseconds).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-1}"
SITE="${LIGHTHOUSE_SITE:-docs/_build/html}"  # another built copy: LIGHTHOUSE_SITE=/path
TOOLS=benchmarks/.lighthouse
CHROME=/usr/bin/chromium
FLAGS="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
FLAGS+=' --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"'

if [ ! -f "$SITE/index.html" ]; then
  echo "Expected a built site in $SITE, but got no index.html there: run \`nox -s docs\` first." >&2
  exit 1
fi
if [ ! -x "$CHROME" ]; then
  echo "Expected Debian's chromium at $CHROME: \`apt-get install chromium\`." >&2
  exit 1
fi
if [ "$#" -gt 1 ]; then
  PAGES=("${@:2}")
else
  mapfile -t PAGES < <(cd "$SITE" && find . -name '*.html' -not -path './_sources/*' | sed 's|^\./||' | sort)
fi
if [ ! -x "$TOOLS/node_modules/.bin/lighthouse" ]; then
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error lighthouse@12.2.3
fi

out="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$SITE" >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server"; rm -rf "$out"' EXIT
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done

for page in "${PAGES[@]}"; do
  for run in $(seq "$RUNS"); do
    name="$(echo "$page" | tr / -)-$run.json"
    CHROME_PATH="$CHROME" "$TOOLS/node_modules/.bin/lighthouse" "http://127.0.0.1:$port/$page" \
      --quiet --output=json --output-path="$out/$name" --chrome-flags="$FLAGS" \
      --only-categories=performance,accessibility,best-practices,seo
  done
done

python3 - "$out" "$RUNS" "${PAGES[@]}" <<'EOF'
import json
import statistics
import sys
from pathlib import Path

out, runs, pages = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
categories = ["performance", "accessibility", "best-practices", "seo"]
print(f"Lighthouse {json.loads(next(out.glob('*.json')).read_text())['lighthouseVersion']}, "
      f"{runs} runs per page (median, and min-max where runs differ)")
print(f"{'page':<52}" + "".join(f"{c[:13]:>14}" for c in categories) + f"{'KiB':>7}{'DOM':>6}")
for page in pages:
    reports = [json.loads((out / f"{page.replace('/', '-')}-{run}.json").read_text()) for run in range(1, runs + 1)]
    cells = []
    for category in categories:
        scores = [round(100 * r["categories"][category]["score"]) for r in reports]
        low, high = min(scores), max(scores)
        spread = f" ({low}-{high})" if low != high else ""
        cells.append(f"{statistics.median(scores):g}{spread}")
    def numeric(audit: str) -> float:
        return statistics.median(r["audits"].get(audit, {}).get("numericValue", float("nan")) for r in reports)

    weight, dom = numeric("total-byte-weight") / 1024, numeric("dom-size")
    print(f"{page:<52}" + "".join(f"{cell:>14}" for cell in cells) + f"{weight:7.0f}{dom:6.0f}")
    metrics = [("FCP", "first-contentful-paint"), ("LCP", "largest-contentful-paint"),
               ("TBT", "total-blocking-time"), ("SI", "speed-index")]
    timings = ", ".join(f"{short} {numeric(audit):.0f} ms" for short, audit in metrics)
    print(f"    {timings}, CLS {numeric('cumulative-layout-shift'):.3f}")
    failing: dict[str, set[str]] = {}
    for r in reports:
        for audit in r["audits"].values():
            if audit["scoreDisplayMode"] == "binary" and audit.get("score") is not None and audit["score"] < 1:
                items = (audit.get("details") or {}).get("items") or [{}]
                where = {str(i.get("url") or i.get("source") or i.get("description") or "")[:90] for i in items}
                failing.setdefault(audit["id"], set()).update(w for w in where if w)
    for audit, where in sorted(failing.items()):
        print(f"    failing: {audit}" + (f" ({'; '.join(sorted(where)[:3])})" if where else ""))
EOF
