#!/bin/sh
# build.sh - assemble the web UI the broker serves: our pages, styles and modules, plus the
# pinned browser clients copied out of node_modules (npm ci by scripts/npm-deps.sh) under
# vendor/. Nothing is bundled or transformed: the clients ship ES modules the browser loads
# as they are. The client code is never committed; it is copied here at build time.
#
#   web/build.sh [--if-deps] [OUT]   OUT defaults to web/dist (the broker serves
#                                    <web_root>/dist); --if-deps: without node_modules,
#                                    warn and succeed (the build of everything else goes on)
set -eu
if_deps=0
if [ "${1:-}" = "--if-deps" ]; then if_deps=1; shift; fi
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-$src/dist}
nm=$src/node_modules
for need in guacamole-common-js/dist/esm/guacamole-common.js @novnc/novnc/core/rfb.js \
            @spice-project/spice-html5/src/main.js; do
    if [ ! -f "$nm/$need" ]; then
        echo "build.sh: $nm/$need is missing: run scripts/npm-deps.sh (npm ci in web/)" >&2
        [ "$if_deps" = 1 ] && exit 0
        exit 1
    fi
done
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/vendor/guacamole" "$tmp/vendor/novnc" "$tmp/vendor/spice"
cp "$src"/*.html "$src"/favicon.svg "$tmp/"
cp -R "$src/css" "$src/js" "$tmp/"
cp "$nm/guacamole-common-js/dist/esm/guacamole-common.js" "$tmp/vendor/guacamole/"
cp "$nm/guacamole-common-js/LICENSE" "$tmp/vendor/guacamole/"
# noVNC's core imports ../vendor/pako: keep the two directories side by side
cp -R "$nm/@novnc/novnc/core" "$nm/@novnc/novnc/vendor" "$nm/@novnc/novnc/LICENSE.txt" \
      "$tmp/vendor/novnc/"
cp -R "$nm/@spice-project/spice-html5/src" "$nm/@spice-project/spice-html5/COPYING.LESSER" \
      "$tmp/vendor/spice/"
rm -rf "$out"
mv "$tmp" "$out"
