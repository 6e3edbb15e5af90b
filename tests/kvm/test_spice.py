# SPDX-License-Identifier: GPL-3.0-or-later
"""The SPICE server against the real VMM and a real SPICE client (spice-check,
spice-client-glib): bochs.bin paints four colour blocks and spice-check must see
them pixel for pixel once set-password has given it the ticket (and be refused
before, and with a wrong one); TCP on a loopback port; bad --spice values; garbage
bytes and a client that stops reading leave the VMM answering and the guest running.

    python3 test_spice.py VMM spice_check=PATH spice_harness=PATH bochs=IMG loop=IMG
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time

import vmmtest as t

BLOCKS = ["0,0,ff0000", "63,47,ff0000", "64,0,00ff00", "127,47,00ff00",
          "0,48,0000ff", "63,95,0000ff", "64,48,ffffff", "127,95,ffffff"]


def tool(env, name):
    path = env.images.get(name)
    t.check(path and os.path.exists(path), "%s is missing (argument %s=PATH)" % (name, name))
    return path


def client_env():
    """The client is a test tool: in sanitizer builds, GLib's and spice-client-glib's
    allocations for the life of the process are not its leaks to report."""
    e = dict(os.environ)
    e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    return e


def spice_check(env, uri, password, *args, timeout=40):
    cmd = [tool(env, "spice_check"), uri, password] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=client_env())
    out = p.stdout.decode(errors="replace").strip()
    t.log("spice-check %s: exit %d: %s" % (" ".join(args), p.returncode, out))
    if p.returncode != 0:
        t.log("  stderr: %s" % p.stderr.decode(errors="replace").strip()[-2000:])
    return p.returncode, out


def start_vm(env, d, guest, spice, extra=()):
    out = os.path.join(d, "serial.out")
    ctl = os.path.join(d, "control.sock")
    proc = t.start(env, ["--firmware", env.image(guest), "--serial", "file:" + out,
                         "--control", ctl, "--spice", spice] + list(extra))
    t.check(t.wait_for(lambda: os.path.exists(ctl) or proc.poll() is not None, 10),
            "the control socket did not appear")
    if proc.poll() is not None:
        t.fail("the VMM ended: %r" % (proc.communicate(),))
    return proc, t.Control(ctl), out


def blocks_with_ticket(env):
    with t.tempdir() as d:
        sock = os.path.join(d, "spice.sock")
        uri = "spice+unix://" + sock
        proc, c, out = start_vm(env, d, "bochs", "unix:" + sock, ["--name", "spice-test"])
        try:
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out), 30),
                    "the guest did not paint: %r" % t.read_file(out))
            st = os.stat(sock)
            t.check(oct(st.st_mode & 0o777) == oct(0o600), "socket mode %o" % st.st_mode)
            disp = c.execute("query-display")["return"]
            t.check(disp["spice"]["address"] == "unix:" + sock, "query-display: %r" % disp)
            t.check(disp["spice"]["password-set"] is False, "query-display: %r" % disp)

            rc, msg = spice_check(env, uri, "-", "refused")
            t.check(rc == 0, "a client without a ticket: " + msg)
            r = c.execute("set-password", {"protocol": "spice", "password": "s3cret"})
            t.check(r.get("return") == {}, "set-password: %r" % r)
            rc, msg = spice_check(env, uri, "wrong", "refused")
            t.check(rc == 0, "a client with a wrong ticket: " + msg)
            rc, msg = spice_check(env, uri, "s3cret", "blocks", "128", "96", *BLOCKS)
            t.check(rc == 0, "the client did not see the blocks: " + msg)

            disp = c.execute("query-display")["return"]
            t.check(disp["spice"]["updates"] >= 1 and disp["spice"]["password-set"],
                    "query-display: %r" % disp)
            t.check(c.execute("query-status")["return"]["state"] == "running",
                    "the VM is not running after the client's keys and clicks")
            # The keys and pointer moves reached the virtio-input devices: the tiny guest
            # has no driver, so past 256 waiting events the oldest are dropped and counted
            # (spice-check sends 150 key presses and releases and 150 clicks).
            def inputs():
                devs = {x["id"]: x for x in c.execute("query-stats")["return"]["devices"]}
                kbd, tab = devs.get("keyboard0", {}), devs.get("tablet0", {})
                done = kbd.get("dropped", 0) >= 150 and tab.get("dropped", 0) >= 100
                return (kbd, tab) if done else None
            t.wait_for(inputs, 5, 0.2)
            devs = {x["id"]: x for x in c.execute("query-stats")["return"]["devices"]}
            kbd, tab = devs.get("keyboard0", {}), devs.get("tablet0", {})
            t.check(kbd.get("dropped", 0) >= 150, "the keyboard saw too few keys: %r" % kbd)
            t.check(tab.get("dropped", 0) >= 100, "the tablet saw too few clicks: %r" % tab)
            r = c.execute("set-password", {"protocol": "spice", "password": 5})
            t.check(r.get("error", {}).get("class") == "InvalidArgument", "%r" % r)
            r = c.execute("set-password", {"protocol": "vnc", "password": "x"})
            t.check("error" in r, "set-password for an absent VNC server: %r" % r)
            c.execute("quit")
            rc, _, _ = t.finish(proc)
            t.check(rc == 0, "exit status %d" % rc)
            t.check(not os.path.exists(sock), "the SPICE socket was left behind")
        finally:
            t.stop(proc)


def tcp_loopback(env):
    with t.tempdir() as d:
        proc, c, out = start_vm(env, d, "bochs", "127.0.0.1:0,ticketing=off")
        try:
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out), 30), "no paint")
            disp = c.execute("query-display")["return"]["spice"]
            port = disp.get("port")
            t.check(isinstance(port, int) and port > 0, "query-display: %r" % disp)
            t.check(disp["address"] == "127.0.0.1:%d" % port and not disp["ticketing"],
                    "query-display: %r" % disp)
            r = c.execute("set-password", {"protocol": "spice", "password": "x"})
            t.check("ticketing is off" in r.get("error", {}).get("desc", ""), "%r" % r)
            rc, msg = spice_check(env, "spice://127.0.0.1:%d" % port, "-", "blocks", "128",
                                  "96", *BLOCKS)
            t.check(rc == 0, "over TCP: " + msg)
        finally:
            t.stop(proc)


def bad_values(env):
    with t.tempdir() as d:
        ctl = os.path.join(d, "control.sock")
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        live = os.path.join(d, "live.sock")
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(live)
        lsock.listen(1)
        plain = os.path.join(d, "plain")
        open(plain, "w").close()
        cases = [
            ("foo", "--spice 'foo'"),
            ("unix:", "--spice 'unix:'"),
            ("127.0.0.1:99999", "--spice '127.0.0.1:99999'"),
            ("example.com:5900", "--spice 'example.com:5900'"),
            ("unix:" + os.path.join(d, "s"), None),  # good value, bad option below
            ("127.0.0.1:%d" % busy.getsockname()[1], "--spice 127.0.0.1:%d" %
             busy.getsockname()[1]),
            ("unix:" + live, "another process is listening"),
            ("unix:" + plain, "is not a socket"),
        ]
        for value, want in cases:
            if want is None:
                value, want = value + ",ticketing=maybe", "unknown option 'ticketing=maybe'"
            res = t.run(env, ["--firmware", env.image("loop"), "--serial", "none",
                              "--control", ctl, "--spice", value])
            lines = res.stderr_lines()
            t.check(res.returncode == 2, "--spice %s: exit %d" % (value, res.returncode))
            t.check(len(lines) == 1 and want in lines[0], "--spice %s: %r" % (value, lines))
            t.check(not os.path.exists(ctl), "--spice %s left the control socket" % value)
        t.check(os.path.exists(live) and os.path.exists(plain), "a file was removed")
        busy.close()
        lsock.close()


def garbage_and_stalled_client(env):
    with t.tempdir() as d:
        sock = os.path.join(d, "spice.sock")
        proc, c, out = start_vm(env, d, "loop", "unix:" + sock + ",ticketing=off")
        stalled = None
        try:
            t.check(t.wait_for(lambda: b"loop start" in t.read_file(out), 10), "no guest")
            rnd = random.Random(5)
            for i in range(20):
                g = socket.socket(socket.AF_UNIX)
                g.connect(sock)
                if i == 0:  # a SPICE link header announcing a 4 GiB message
                    g.sendall(b"REDQ\x02\x00\x00\x00\x02\x00\x00\x00\xff\xff\xff\xff")
                try:
                    g.sendall(bytes(rnd.getrandbits(8) for _ in range(4096 * (i + 1))))
                except OSError:
                    pass  # the server may drop us half way: that is the point
                if i % 2:
                    g.close()  # half of them linger, open and silent
            # A real client, then frozen: it stops reading everything.
            stalled = subprocess.Popen([tool(env, "spice_check"), "spice+unix://" + sock, "-",
                                        "bench", "30"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=client_env())
            time.sleep(1.0)
            stalled.send_signal(signal.SIGSTOP)
            before = t.read_file(out).count(b"\n")
            for _ in range(10):
                t0 = time.monotonic()
                st = c.execute("query-status", timeout=2.0)["return"]
                t.check(st["state"] == "running", "state %r" % st)
                t.check(time.monotonic() - t0 < 1.0, "query-status took %.2fs" %
                        (time.monotonic() - t0))
                time.sleep(0.2)
            after = t.read_file(out).count(b"\n")
            t.check(after > before, "serial output stopped (%d lines, then %d)" % (before,
                                                                                  after))
            c.execute("set-password", {"protocol": "spice", "password": "x"})
            t.check(proc.poll() is None, "the VMM ended")
        finally:
            if stalled:
                stalled.kill()
                stalled.wait()
            t.stop(proc)


def stalled_client_backpressure(env):
    """With the harness (the SPICE server on a 1280x800 surface repainted nonstop), a
    frozen client neither stops other clients' updates nor makes the server hoard
    frames."""
    with t.tempdir() as d:
        sock = os.path.join(d, "h.sock")
        h = subprocess.Popen([tool(env, "spice_harness"), sock], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        stalled = None
        try:
            t.check(t.wait_for(lambda: os.path.exists(sock), 10), "no harness socket")
            stalled = subprocess.Popen([tool(env, "spice_check"), "spice+unix://" + sock, "-",
                                        "bench", "30"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=client_env())
            time.sleep(1.5)
            stalled.send_signal(signal.SIGSTOP)
            time.sleep(3.0)
            rc, msg = spice_check(env, "spice+unix://" + sock, "-", "bench", "2")
            t.check(rc == 0, "a second client: " + msg)
            fps = float(msg.split("fps=")[1].split()[0])
            # Not stalled: updates keep coming (the rate itself is tests/bench/spice's job; a
            # sanitizer build on a busy machine paints far slower).
            t.check(fps >= 3, "a second client got %.1f updates/s beside a frozen one" % fps)
            with open("/proc/%d/status" % h.pid) as f:
                rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
            t.log("harness RSS %d KiB" % rss)
            t.check(rss < 400 * 1024, "the server holds %d KiB beside a frozen client" % rss)
        finally:
            if stalled:
                stalled.kill()
                stalled.wait()
            h.send_signal(signal.SIGTERM)
            h.wait(timeout=10)
        t.check(not os.path.exists(sock), "the harness left its socket")


def main():
    env_probe = t.Env(sys.argv)
    if not env_probe.images.get("spice_check"):
        t.skip("no spice-check client given")
    tests = [stalled_client_backpressure]
    if t.kvm_problem():
        t.log("no usable /dev/kvm (%s): only the tests without a guest run" % t.kvm_problem())
    else:
        tests = [blocks_with_ticket, tcp_loopback, bad_values, garbage_and_stalled_client] + tests
    return t.main(tests)


if __name__ == "__main__":
    sys.exit(main())
