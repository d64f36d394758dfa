#!/usr/bin/env bash
# Copies the pinned npm packages' browser files (web/node_modules, installed
# by `npm ci` from web/package-lock.json) into web/static, which the binary
# embeds. Run by `make assets`; the copies are git-ignored.
set -euo pipefail
cd "$(dirname "$0")/../web"
bi=node_modules/bootstrap-italia
hx=node_modules/htmx.org
test -d "$bi/dist" -a -d "$hx/dist" || { echo "web/node_modules is missing: run npm ci in web/ (make assets does)" >&2; exit 1; }
out=static/bootstrap-italia/dist
rm -rf static/bootstrap-italia static/htmx
mkdir -p "$out/css" "$out/js" "$out/svg" "$out/fonts" static/htmx
cp "$bi/dist/css/bootstrap-italia.min.css" "$out/css/"
cp "$bi/dist/js/bootstrap-italia.bundle.min.js" "$out/js/"
cp "$bi/dist/svg/sprites.svg" "$out/svg/"
# The web fonts (woff2 and woff) and their licences.
for d in "$bi"/dist/fonts/*/; do
  name=$(basename "$d")
  mkdir -p "$out/fonts/$name"
  cp "$d"/*.woff2 "$d"/*.woff "$out/fonts/$name/"
  cp "$d"/LICENSE* "$out/fonts/$name/" 2>/dev/null || true
done
cp "$bi/LICENSE" static/bootstrap-italia/LICENSE
cp "$hx/dist/htmx.min.js" static/htmx/
cp "$hx/LICENSE" static/htmx/LICENSE
# What was copied, for the server to tell a missing build from a partial one.
node -e 'const p=require("./package-lock.json").packages;console.log(JSON.stringify({"bootstrap-italia":p["node_modules/bootstrap-italia"].version,"htmx.org":p["node_modules/htmx.org"].version}))' > static/versions.json
echo "web assets copied to web/static (bootstrap-italia $(node -p 'require("./node_modules/bootstrap-italia/package.json").version'), htmx $(node -p 'require("./node_modules/htmx.org/package.json").version'))"
