/*
 * hvt.h - helpers shared by the hypervisor tests: scratch dirs and libvirt test-driver
 * node files with Portico and foreign domains. Local to tests/unit/hypervisor until
 * tests/support grows the same (tf_test_node_write() writes foreign domains only).
 */
#ifndef PT_TESTS_HVT_H
#define PT_TESTS_HVT_H

#include <stdbool.h>

#include "hypervisor/hv.h"

/* hvt_tmpdir() - borrowed: a per-process scratch dir, removed at exit. */
const char *hvt_tmpdir(void);

/*
 * hvt_node_write() - returns new: the "test://<path>" URI of a node file holding
 * @nportico Portico desktops (metadata pool=@pool, id=<prefix>-id-NNNN) and @nforeign
 * domains without metadata, named <prefix>-NNNN, half of each running, with explicit
 * VNC/SPICE ports; a "default" network (so guests get lease addresses) and a dir
 * storage pool at /golden holding golden volume base.qcow2.
 */
char *hvt_node_write(const char *prefix, const char *pool, int nportico, int nforeign);

#define HVT_GOLDEN "/golden/base.qcow2"

/* hvt_spec() - a parameter spec for @name on the test driver with the golden above. */
struct hv_desktop_spec hvt_spec(const char *name, const char *pool, const char *id);

/* hvt_wait_event() - poll hv_event_fd() up to @timeout_ms and dispatch until an event of
 * @type for @name arrives. Returns true if it did. */
bool hvt_wait_event(struct hv *hv, enum hv_event_type type, const char *name, int timeout_ms);

#endif
