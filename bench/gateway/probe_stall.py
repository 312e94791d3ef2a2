#!/usr/bin/env python3
# probe_stall.py - reproduces the lws 4.1.6 + libev stall (docs/gateway.md, "Found: a
# connection closed right after accept loses the next one"): start portico-gateway, probe
# its port with connect+close (what tf_wait_port() and load-balancer TCP health checks
# do), open one WebSocket without a ticket and expect close 4000 within 5 s. On a stall
# it prints the gateway's state and stacks (gdb). The deterministic ctest of the same bug
# is tests/unit/gateway/test_gw_loop.c; this loop is the field check (timing as deployed).
#
#   bench/gateway/probe_stall.py BUILD/gateway/portico-gateway RUNS [--poll] [--no-probe] [--tls]
# Measured 2026-11-23 before the fix (lws_protocol_init() in gw_new()): libev + probe 5/150
# and 6/200 stalls, libev without probe 0/150, poll() with probe 0/150. Cause: the upgrade
# was served before lws initialised the vhost's protocols, so it landed on "http".
import os, random, socket, ssl, subprocess, sys, tempfile, time

gw, runs = sys.argv[1], int(sys.argv[2])
poll_loop, probe = '--poll' in sys.argv, '--no-probe' not in sys.argv
tls = '--tls' in sys.argv
tls_ctx = ssl.create_default_context()
tls_ctx.check_hostname = False
tls_ctx.verify_mode = ssl.CERT_NONE
d = tempfile.mkdtemp(prefix='probe-stall-')
subprocess.run(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out', f'{d}/t.key'], check=True)
subprocess.run(['openssl', 'pkey', '-in', f'{d}/t.key', '-pubout', '-out', f'{d}/t.key.pub'],
               check=True)
env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0')
fails = 0
for i in range(runs):
    port = random.randint(20000, 31999)
    with open(f'{d}/g.conf', 'w') as f:
        f.write(f'[gateway]\nlisten = 127.0.0.1:{port}\ntls = {"yes" if tls else "no"}\n'
                f'state_dir = {d}/st\nid = x\n'
                f'ticket_key = {d}/t.key.pub\nlog_level = debug\n'
                f'event_lib = {"no" if poll_loop else "yes"}\n')
    log = open(f'{d}/log', 'w')
    p = subprocess.Popen([gw, '-c', f'{d}/g.conf'], stderr=log, stdout=log, env=env)
    t0 = time.time()
    while time.time() - t0 < 10:
        if probe:
            s = socket.socket()
            try:
                s.connect(('127.0.0.1', port))
                s.close()
                break
            except OSError:
                s.close()
        elif b'event=listening' in open(f'{d}/log', 'rb').read():
            break
        time.sleep(0.005)
    c = socket.create_connection(('127.0.0.1', port))
    if tls:
        c = tls_ctx.wrap_socket(c)
    c.sendall(f'GET /tunnel HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n'
              'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
              'Sec-WebSocket-Version: 13\r\n\r\n'.encode())
    c.settimeout(5)
    data = b''
    try:
        while b'\r\n\r\n' not in data or b'\x88' not in data.split(b'\r\n\r\n', 1)[1]:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ssl.SSLError):
        pass
    if not (b' 101 ' in data and b'\x88' in data.split(b'\r\n\r\n', 1)[-1]):
        fails += 1
        print(f'STALL run {i}: got {data[:40]!r}; gateway pid {p.pid}', flush=True)
        os.system(f'cat /proc/{p.pid}/wchan; echo; timeout 20 gdb -q -p {p.pid} -batch '
                  f'-ex "thread apply all bt 8" 2>/dev/null | grep -E "^#" | head -8')
    c.close()
    p.terminate()
    p.wait()
print(f'runs {runs} stalls {fails} ({"poll" if poll_loop else "libev"}, '
      f'{"probe" if probe else "no probe"}, {"wss" if tls else "ws"})')
subprocess.run(['rm', '-rf', d])
