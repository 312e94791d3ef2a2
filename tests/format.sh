#!/bin/sh
# format.sh - every C file matches .clang-format (clang-format 14). Fix with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "format: clang-format not installed"; exit 1; }
files=$(find common hypervisor store auth pool broker gateway cli tests bench \
    \( -name '*.c' -o -name '*.h' \) -not -path '*/node_modules/*' 2>/dev/null)
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
if ! clang-format --dry-run -Werror $files 2>/tmp/portico-format.$$; then
    grep -E '^[^ ]+:[0-9]+:[0-9]+: error' /tmp/portico-format.$$ | cut -d: -f1 | sort -u |
        sed 's/^/format: needs clang-format -i: /'
    rm -f /tmp/portico-format.$$
    exit 1
fi
rm -f /tmp/portico-format.$$
echo "format: ok"
