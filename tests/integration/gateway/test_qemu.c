/*
 * test_qemu.c - the relay against a real QEMU guest under libvirt: its VNC server (with a
 * display password the gateway answers for the browser) and its SPICE server, each
 * reached through the tunnel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "common/err.h"
#include "gwtest.h"
#include "wsclient.h"

Suite *gateway_qemu_suite(void);

Suite *
gateway_qemu_suite(void)
{
    Suite *s = suite_create("gateway_qemu");
    return s;
}
