/*
 * harness.h - TEST HARNESS standing in for the gateway's tunnel (ws.c): implements the
 * gw_tunnel_* functions of gw_backend.h in memory, so the RDP backend can be driven
 * directly by a test playing the browser. Everything the backend sends or posts is
 * appended to one buffer that the test reads as Guacamole instructions.
 */
#ifndef PT_TEST_RDP_HARNESS_H
#define PT_TEST_RDP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_backend.h"

#define H_MAX_ARGS 16

struct h_insn {
    char op[32];
    int argc;
    char *argv[H_MAX_ARGS]; /* owned by the instruction */
};

struct gw_tunnel *h_tunnel_new(void);
void h_tunnel_free(struct gw_tunnel *t);
/* h_next() - the next instruction the backend sent, waiting up to @timeout_ms; 0 or -1. */
int h_next(struct gw_tunnel *t, struct h_insn *in, int timeout_ms);
void h_insn_fini(struct h_insn *in);
/* h_wait_op() - skip instructions until one with opcode @op (echoing every "sync" back
 * through @ops like a browser); 0 or -1 on timeout. */
int h_wait_op(struct gw_tunnel *t, const struct gw_backend_ops *ops, const char *op,
              struct h_insn *in, int timeout_ms);
/* h_send() - deliver @msg to the backend as one browser text message. */
int h_send(struct gw_tunnel *t, const struct gw_backend_ops *ops, const char *msg, char *reason,
           size_t reason_len);
size_t h_bytes(struct gw_tunnel *t);
int h_closed_code(struct gw_tunnel *t);

#endif
