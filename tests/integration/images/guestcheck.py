#!/usr/bin/env python3
"""guestcheck.py - small network and screen probes for the image tests (loopback only).

  freeport N                 print N free TCP ports on 127.0.0.1 (one per line)
  refused PORT               exit 0 if nothing listens on 127.0.0.1:PORT
  vnc PORT                   read the RFB banner ("RFB 003.008")
  spice PORT                 send a SpiceLinkHeader for the main channel, expect "REDQ" back
  echo PORT NBYTES           send NBYTES random bytes, expect the same bytes back
  http PORT TEXT             GET / and expect TEXT in the body
  rdp PORT                   X.224 Connection Request with an RDP negotiation request;
                             expect a Connection Confirm (an RDP server, not just TCP)
  screen FILE                check a `virsh screenshot` (PNG or PPM) shows the demo desktop:
                             mostly the blue background, a light title bar, and text

Every probe retries connecting for up to PROBE_WAIT seconds (default 10) because QEMU's
user-mode forwards and display sockets may need a moment, prints one line and exits 0
on success, 1 with the reason otherwise.
"""
import os
import socket
import struct
import subprocess
import sys
import time

HOST = "127.0.0.1"
WAIT = float(os.environ.get("PROBE_WAIT", "10"))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def connect(port):
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return socket.create_connection((HOST, port), timeout=5)
        except OSError as e:
            if time.monotonic() > deadline:
                fail(f"connect {HOST}:{port}: {e}")
            time.sleep(0.2)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def cmd_freeport(n):
    socks, ports = [], []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print("\n".join(str(p) for p in ports))


def cmd_refused(port):
    try:
        socket.create_connection((HOST, int(port)), timeout=2).close()
    except OSError:
        print(f"ok: nothing listens on {HOST}:{port}")
        return
    fail(f"{HOST}:{port} accepts connections")


def cmd_vnc(port):
    s = connect(int(port))
    banner = recv_exact(s, 12)
    if not banner.startswith(b"RFB 003."):
        fail(f"VNC banner {banner!r}")
    print(f"ok: VNC {banner.decode().strip()}")


def cmd_spice(port):
    s = connect(int(port))
    # SpiceLinkMess: connection id, channel type 1 (main), channel id, no caps
    mess = struct.pack("<IBBIIII", 0, 1, 0, 0, 0, 0, 18)
    s.sendall(b"REDQ" + struct.pack("<III", 2, 2, len(mess)) + mess)
    r = recv_exact(s, 16)
    if len(r) < 16 or r[:4] != b"REDQ":
        fail(f"SPICE reply {r!r}")
    major, minor, size = struct.unpack("<III", r[4:16])
    body = recv_exact(s, min(size, 4096))
    err = struct.unpack("<I", body[:4])[0] if len(body) >= 4 else -1
    if err != 0:
        fail(f"SpiceLinkReply error {err}")
    print(f"ok: SPICE REDQ {major}.{minor}, link reply OK")


def cmd_echo(port, nbytes):
    data = os.urandom(int(nbytes))
    s = connect(int(port))
    s.settimeout(10)
    s.sendall(data)
    back = recv_exact(s, len(data))
    if back != data:
        fail(f"echo returned {len(back)} of {len(data)} bytes, equal={back == data[:len(back)]}")
    print(f"ok: {len(data)} random bytes echoed through {HOST}:{port}")


def cmd_http(port, text):
    deadline = time.monotonic() + WAIT
    while True:
        s = connect(int(port))
        s.settimeout(10)
        s.sendall(b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n")
        resp = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            resp += d
        if text.encode() in resp:
            print(f"ok: HTTP through {HOST}:{port} shows {text!r}")
            return
        if time.monotonic() > deadline:
            fail(f"HTTP body lacks {text!r}: {resp[:200]!r}")
        time.sleep(0.3)


def cmd_rdp(port):
    # TPKT(3,0,len) + X.224 CR (0xE0) + "Cookie: mstshash=portico" + RDP_NEG_REQ(TLS|RDP)
    cookie = b"Cookie: mstshash=portico\r\n"
    neg = struct.pack("<BBHI", 0x01, 0, 8, 0x00000001)
    x224 = bytes([6 + len(cookie) + len(neg), 0xE0, 0, 0, 0, 0, 0]) + cookie + neg
    s = connect(int(port))
    s.settimeout(15)
    s.sendall(struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224)
    hdr = recv_exact(s, 4)
    if len(hdr) < 4 or hdr[0] != 3:
        fail(f"no TPKT reply: {hdr!r}")
    body = recv_exact(s, struct.unpack(">H", hdr[2:4])[0] - 4)
    if len(body) < 2 or body[1] & 0xF0 != 0xD0:
        fail(f"no X.224 Connection Confirm: {body!r}")
    what = "no negotiation response"
    if len(body) >= 15 and body[7] == 0x02:
        proto = struct.unpack("<I", body[11:15])[0]
        what = f"selected protocol {proto} ({ {0: 'RDP', 1: 'TLS', 2: 'CredSSP'}.get(proto, '?') })"
    elif len(body) >= 15 and body[7] == 0x03:
        what = f"negotiation failure code {struct.unpack('<I', body[11:15])[0]}"
    print(f"ok: RDP server answers X.224 Connection Confirm, {what}")


def read_ppm(path):
    raw = open(path, "rb").read()
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        raw = subprocess.run(["pngtopnm", path], check=True, capture_output=True).stdout
    if raw[:2] != b"P6":
        fail(f"{path}: neither PNG nor binary PPM")
    # header: P6 <w> <h> <max> then one whitespace byte (no comments in QEMU/netpbm output)
    fields, pos = [], 2
    while len(fields) < 3:
        while raw[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not raw[pos:pos + 1].isspace():
            pos += 1
        fields.append(int(raw[start:pos]))
    w, h, mx = fields
    if mx != 255:
        fail(f"{path}: maxval {mx}")
    return w, h, raw[pos + 1:pos + 1 + w * h * 3]


def cmd_screen(path):
    w, h, px = read_ppm(path)
    n = w * h
    if n == 0 or len(px) != n * 3:
        fail(f"{path}: {w}x{h} with {len(px)} pixel bytes")
    blue = light = 0
    for i in range(0, len(px), 3):
        r, g, b = px[i], px[i + 1], px[i + 2]
        if b >= 0x80 and r < 0x40 and g < 0x40:
            blue += 1
        elif r > 0x90 and g > 0x90 and b > 0x90:
            light += 1
    # title bar: the first 8 rows are mostly light grey
    top = sum(1 for i in range(0, w * 8 * 3, 3) if px[i] > 0x90 and px[i + 1] > 0x90)
    if blue < n // 2:
        fail(f"{w}x{h}: only {100 * blue // n}% blue background (not the demo desktop?)")
    if light < 200:
        fail(f"{w}x{h}: only {light} light pixels (no text?)")
    if top < w * 8 // 2:
        fail(f"{w}x{h}: no light title bar in the top rows")
    print(f"ok: {w}x{h} screen, {100 * blue // n}% blue desktop, {light} light pixels, title bar")


def main():
    cmds = {"freeport": cmd_freeport, "refused": cmd_refused, "vnc": cmd_vnc,
            "spice": cmd_spice, "echo": cmd_echo, "rdp": cmd_rdp, "http": cmd_http, "screen": cmd_screen}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
