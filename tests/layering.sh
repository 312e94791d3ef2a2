#!/bin/sh
# layering.sh - fail when a library is included outside the module that owns it
# (docs/ARCHITECTURE.md, "Dependency rules"). Usage: layering.sh [REPO_ROOT]
# Tests and benchmarks may include anything; product code may not.
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
status=0

# check PATTERN ALLOWED_PREFIX_REGEX WHAT
check() {
    hits=$(grep -rnE "#[[:space:]]*include[[:space:]]*[<\"]$1" --include='*.c' --include='*.h' \
        common hypervisor store auth pool broker gateway cli web 2>/dev/null | grep -vE "^($2)")
    if [ -n "$hits" ]; then
        echo "layering: $3"
        echo "$hits" | sed 's/^/  /'
        status=1
    fi
}

check 'libvirt/' 'hypervisor/src/' 'libvirt may only be included in hypervisor/src/'
check 'ldap\.h|lber\.h' 'auth/src/' 'ldap.h may only be included in auth/src/'
check '(freerdp|winpr)/' 'gateway/src/' 'FreeRDP/WinPR may only be included in gateway/src/'
check 'sqlite3\.h|libpq-fe\.h' 'store/src/' 'SQL libraries may only be included in store/src/'
check '"(pool|store|hypervisor|broker)/' 'pool/|broker/|store/|hypervisor/|cli/' \
    'gateway/ (and auth/, common/) may not include pool/, store/, hypervisor/ or broker/'
check '"(broker|pool)/' 'broker/|pool/|cli/' 'only broker/ may include pool/ and broker/ headers'
check '"(auth|hypervisor|store|pool|broker|gateway)/' \
    'hypervisor/|store/|auth/|pool/|broker/|gateway/|cli/' 'common/ depends on nothing of ours'
check '"hypervisor/' 'hypervisor/|pool/' 'only pool/ talks to hypervisor/'

[ $status = 0 ] && echo "layering: ok"
exit $status
