# SPDX-License-Identifier: GPL-3.0-or-later
"""The VNC server with tiny guests: bochs.bin paints four blocks and vnc-check (a
libvncclient client) must see them over the unix socket and over TCP on loopback;
password=on refuses everyone until set-password; send-key and query-display;
SetDesktopSize's answers with virtio-gpu and bochs-display; bad --vnc values; clients
that send garbage or stop reading stall neither the control socket nor the guest
(loop.bin keeps printing)."""

import os
import socket
import struct
import subprocess
import sys
import time

import vmmtest as t

W, H = 128, 96
PROBES = ["32,24,ff0000", "96,24,00ff00", "32,72,0000ff", "96,72,ffffff",
          "0,0,ff0000", "127,95,ffffff"]


def vnc_check(env, address, password=None, probes=PROBES, size=(W, H)):
    args = [env.image("vnc_check")]
    if password is not None:
        args += ["--password", password]
    args += [address, str(size[0]), str(size[1])] + probes
    res = subprocess.run(args, capture_output=True, timeout=30)
    t.log("vnc-check %s: %d %s" % (address, res.returncode, res.stdout.decode().strip()))
    return res.returncode


def start_vm(env, d, image, vnc, extra=()):
    out = os.path.join(d, "serial.out")
    sock = os.path.join(d, "vm.sock")
    proc = t.start(env, ["--firmware", env.image(image), "--vnc", vnc, "--serial",
                         "file:" + out, "--control", sock] + list(extra))
    t.check(t.wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10),
            "the control socket did not appear")
    if proc.poll() is not None:
        t.fail("the VMM exited: %r" % (proc.communicate(),))
    return proc, out, t.Control(sock)


def unix_blocks(env):
    with t.tempdir() as d:
        # "unix": beside the control socket, vm.sock -> vm.vnc
        proc, out, c = start_vm(env, d, "bochs", "unix")
        try:
            path = os.path.join(d, "vm.vnc")
            t.check(os.path.exists(path), "no socket at %s" % path)
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out), 15),
                    "the guest did not paint: %r" % t.read_file(out))
            t.check(vnc_check(env, path) == 0, "vnc-check did not see the blocks")
            r = c.execute("query-display")["return"]
            t.check(r.get("vnc", {}).get("address") == "unix:" + path and
                    r["vnc"].get("auth") == "none" and r["vnc"].get("keymap") == "en-us",
                    "query-display: %r" % r)
            devices = c.execute("query-devices")["return"]["devices"]
            kinds = [x.get("input") for x in devices if x.get("kind") == "virtio-input"]
            t.check(sorted(kinds) == ["keyboard", "tablet"], "input devices: %r" % devices)
            r = c.execute("send-key", {"keys": ["ctrl", "alt", "delete"]})
            t.check(r.get("return") == {}, "send-key: %r" % r)
            r = c.execute("send-key", {"keys": [{"type": "qcode", "data": "f1"}]})
            t.check(r.get("return") == {}, "send-key qcode object: %r" % r)
            for bad in ({"keys": ["ctrl", "nosuchkey"]}, {"keys": []}, {"keys": "ctrl"}, {}):
                r = c.execute("send-key", bad)
                t.check(r.get("error", {}).get("class") == "InvalidArgument",
                        "send-key %r: %r" % (bad, r))
            # The guest has no driver: six events (3 presses, 3 releases, each with a
            # SYN) wait in the keyboard's queue and count as neither sent nor dropped.
            stats = c.execute("query-stats")["return"]["devices"]
            kbd = [s for s in stats if s.get("kind") == "virtio-input"][0]
            t.check(kbd.get("dropped") == 0, "keyboard stats: %r" % kbd)
            r = c.execute("set-password", {"protocol": "vnc", "password": "x"})
            t.check("error" in r and "password=on" in r["error"]["desc"],
                    "set-password without password=on: %r" % r)
            c.execute("quit")
            t.finish(proc)
            t.check(not os.path.exists(path), "the VNC socket was left behind")
        finally:
            t.stop(proc)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_password(env):
    with t.tempdir() as d:
        port = free_port()
        proc, out, c = start_vm(env, d, "bochs",
                                "127.0.0.1:%d,password=on,keymap=pt-br" % port)
        try:
            addr = "127.0.0.1:%d" % port
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out), 15), "no paint")
            t.check(vnc_check(env, addr, password="secret") == 3,
                    "a client got in before set-password")
            r = c.execute("set-password", {"protocol": "vnc", "password": "secret"})
            t.check(r.get("return") == {}, "set-password: %r" % r)
            t.check(vnc_check(env, addr, password="wrong") == 3, "a wrong password got in")
            t.check(vnc_check(env, addr, password="secret") == 0, "the password did not work")
            r = c.execute("query-display")["return"]["vnc"]
            t.check(r == {"address": addr, "auth": "vnc", "password-set": True,
                          "keymap": "pt-br", "clients": 0}, "query-display vnc: %r" % r)
            c.execute("quit")
            t.finish(proc)
        finally:
            t.stop(proc)


def rfb_handshake(path):
    """A raw client through ServerInit (security None); returns the socket, width, height."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(5)
    t.check(s.recv(12) == b"RFB 003.008\n", "no RFB greeting")
    s.sendall(b"RFB 003.008\n")
    n = s.recv(1)[0]
    s.recv(n)
    s.sendall(b"\x01")
    s.recv(4)
    s.sendall(b"\x01")
    init = b""
    while len(init) < 24:
        init += s.recv(24 - len(init))
    name_len = int.from_bytes(init[20:24], "big")
    name = b""
    while len(name) < name_len:
        name += s.recv(name_len - len(name))
    return s, int.from_bytes(init[0:2], "big"), int.from_bytes(init[2:4], "big")


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        t.check(chunk, "the VNC server closed the connection")
        data += chunk
    return data


def next_desktop_size(s):
    """Reads updates until one has an ExtendedDesktopSize rectangle (raw pixels skipped);
    returns (reason, status, width, height)."""
    while True:
        kind = recv_exact(s, 1)[0]
        t.check(kind == 0, "unexpected server message %d" % kind)
        found = None
        for _ in range(int.from_bytes(recv_exact(s, 3)[1:], "big")):
            x, y, w, h, enc = struct.unpack(">HHHHi", recv_exact(s, 12))
            if enc == 0:
                recv_exact(s, w * h * 4)
            elif enc == -308:
                screens = recv_exact(s, 4)[0]
                recv_exact(s, 16 * screens)
                found = (x, y, w, h)
            else:
                t.fail("unexpected encoding %d" % enc)
        if found:
            return found


def set_desktop_size(s, w, h):
    """SetDesktopSize with one screen; returns the answer (reason, status, width, height)."""
    s.sendall(struct.pack(">BBHHBB", 251, 0, w, h, 1, 0) + struct.pack(">IHHHHI", 0, 0, 0, w, h, 0))
    return next_desktop_size(s)


def desktop_resize(env):
    """SetDesktopSize: virtio-gpu takes the size ("request forwarded", status 4: the
    guest decides), bochs-display cannot (prohibited, 1); query-display shows the size
    asked for either way. (The guest following it is the lab's test.)"""
    for gpu, device, status in (("virtio", "virtio-gpu", 4), ("bochs", "bochs-display", 1)):
        with t.tempdir() as d:
            path = os.path.join(d, "vm.vnc")
            proc, out, c = start_vm(env, d, "loop", "unix:" + path, ["--gpu", gpu])
            try:
                r = c.execute("query-display")["return"]
                t.check(r["device"] == device and r["requested-size"] is None,
                        "query-display before: %r" % r)
                s, w, h = rfb_handshake(path)
                # Raw and ExtendedDesktopSize; a small update request kept waiting, as a
                # viewer keeps one, so that the answer comes at once.
                s.sendall(struct.pack(">BBHii", 2, 0, 2, 0, -308))
                s.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, 1, 1))
                t.check(recv_exact(s, 4)[0] == 0, "no first update")
                t.check(struct.unpack(">HHHHi", recv_exact(s, 12))[4] == 0, "not raw")
                recv_exact(s, 4)
                s.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, 1, 1))
                got = set_desktop_size(s, 1024, 768)
                t.check(got == (1, status, w, h), "--gpu %s: SetDesktopSize answered %r, "
                        "expected (1, %d, %d, %d)" % (gpu, got, status, w, h))
                got = set_desktop_size(s, 0, 768)
                t.check(got[:2] == (1, 3), "--gpu %s: 0x768 answered %r" % (gpu, got))
                t.check(t.wait_for(lambda: c.execute("query-display")["return"]
                                   ["requested-size"] == {"width": 1024, "height": 768}, 5),
                        "query-display after: %r" % c.execute("query-display")["return"])
                s.close()
                t.check(c.execute("query-status")["return"]["state"] == "running", "not running")
                c.execute("quit")
                t.finish(proc)
            finally:
                t.stop(proc)


def bad_clients(env):
    with t.tempdir() as d:
        path = os.path.join(d, "vm.vnc")
        proc, out, c = start_vm(env, d, "loop", "unix:" + path, ["--gpu", "bochs"])
        try:
            t.check(t.wait_for(lambda: b"loop 2" in t.read_file(out), 20), "loop did not run")
            # Garbage before and after the handshake.
            g = socket.socket(socket.AF_UNIX)
            g.connect(path)
            g.sendall(os.urandom(4096))
            s, w, h = rfb_handshake(path)
            s.sendall(b"\x99" + os.urandom(64))
            # A client that asks for full frames and never reads them.
            f, w, h = rfb_handshake(path)
            f.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            req = bytes([3, 0, 0, 0, 0, 0]) + w.to_bytes(2, "big") + h.to_bytes(2, "big")
            for _ in range(50):
                f.sendall(req)
            # The VMM answers at once, and the guest keeps printing, all along.
            for _ in range(5):
                before = len(t.read_file(out))
                start = time.monotonic()
                r = c.execute("query-status", timeout=2)
                took = time.monotonic() - start
                t.check(r.get("return", {}).get("state") == "running" and took < 0.5,
                        "query-status took %.2fs: %r" % (took, r))
                t.check(t.wait_for(lambda: len(t.read_file(out)) > before, 5),
                        "the guest's serial output stopped")
                time.sleep(0.5)
            for sock in (g, s, f):
                sock.close()
            # The server serves a proper client afterwards (the screen is blank: 640x480
            # until a guest sets a mode, and loop.bin sets none).
            t.check(vnc_check(env, path, probes=["0,0,000000"], size=(640, 480)) == 0,
                    "a proper client was not served after the bad ones")
            c.execute("quit")
            t.finish(proc)
        finally:
            t.stop(proc)


def bad_flags(env):
    with t.tempdir() as d:
        cases = [
            (["--vnc", ":0"], ":0"),
            (["--vnc", "unix"], "--control"),
            (["--vnc", "127.0.0.1:5900,password=yes"], "password=yes"),
            (["--vnc", "127.0.0.1:5900,keymap=fr"], "fr"),
            (["--vnc", "unix:" + os.path.join(d, "no", "such", "dir", "v.sock")], "--vnc"),
        ]
        for args, needle in cases:
            res = t.run(env, ["--firmware", env.image("bochs")] + args)
            lines = res.stderr_lines()
            t.check(res.returncode == 2 and len(lines) == 1 and needle in lines[0],
                    res.describe())
        t.check(os.listdir(d) == [], "files left behind: %r" % os.listdir(d))
        # A live socket at the path is refused, and left alone.
        live = socket.socket(socket.AF_UNIX)
        path = os.path.join(d, "live.vnc")
        live.bind(path)
        live.listen(1)
        res = t.run(env, ["--firmware", env.image("bochs"), "--vnc", "unix:" + path])
        t.check(res.returncode == 2 and len(res.stderr_lines()) == 1, res.describe())
        t.check(os.path.exists(path), "the live socket was removed")
        live.close()


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([unix_blocks, tcp_password, desktop_resize, bad_clients, bad_flags]))
