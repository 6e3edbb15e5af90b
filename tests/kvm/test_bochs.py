# SPDX-License-Identifier: GPL-3.0-or-later
"""bochs-display with a tiny guest (bochs.bin): it finds 1234:1111 through PCI
config space, sees an impossible mode refused, sets 128x96x32 and paints four
colour blocks, the bottom two after moving BAR0. screendump's PNG must show
the blocks pixel by pixel; query-display the mode; query-stats that VRAM
writes needed no VM exit and reached the dirty log. Also screendump's errors
and a VM without a display."""

import os
import struct
import sys
import zlib

import vmmtest as t

W, H = 128, 96
BLOCKS = {  # (column, row) of each 64x48 block -> RGB
    (0, 0): (255, 0, 0),
    (1, 0): (0, 255, 0),
    (0, 1): (0, 0, 255),
    (1, 1): (255, 255, 255),
}


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB, non-interlaced PNG."""
    data = t.read_file(path)
    t.check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG: %r" % (path, data[:16]))
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        t.check(zlib.crc32(kind + body) & 0xffffffff == crc, "bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    t.check(ihdr is not None, "no IHDR")
    w, h, depth, colour, _, _, interlace = ihdr
    t.check(depth == 8 and colour == 2 and interlace == 0,
            "expected 8-bit RGB, not interlaced: %r" % (ihdr,))
    raw = zlib.decompress(idat)
    stride = w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 0xff
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def painted_blocks(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        sock = os.path.join(d, "control.sock")
        png = os.path.join(d, "screen.png")
        proc = t.start(env, ["--firmware", env.image("bochs"), "--gpu", "bochs",
                             "--serial", "file:" + out, "--control", sock])
        try:
            t.check(t.wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10),
                    "the control socket did not appear")
            c = t.Control(sock)
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out), 15),
                    "the guest did not paint: %r" % t.read_file(out))
            text = t.read_file(out).decode()
            for what in ("id", "refused", "mode"):
                t.check("bochs: %s ok" % what in text, "guest says: %r" % text)

            r = c.execute("query-display")
            t.check(r.get("return", {}).get("device") == "bochs-display", "query-display %r" % r)
            t.check(r["return"].get("mode") == {"width": W, "height": H},
                    "query-display mode %r" % r)

            r = c.execute("screendump", {"filename": png})
            t.check(r.get("return") == {}, "screendump: %r" % r)
            w, h, rows = read_png(png)
            t.check((w, h) == (W, H), "PNG is %dx%d, expected %dx%d" % (w, h, W, H))
            for (bx, by), rgb in BLOCKS.items():
                for y in range(by * 48, by * 48 + 48):
                    for x in range(bx * 64, bx * 64 + 64):
                        px = tuple(rows[y][3 * x:3 * x + 3])
                        t.check(px == rgb, "pixel (%d,%d) is %r, expected %r" % (x, y, px, rgb))

            # The guest wrote VRAM through the KVM slot (no exits), before and after the
            # BAR moved, and the dirty log saw it.
            stats = c.execute("query-stats")["return"]["devices"]
            disp = [s for s in stats if s.get("kind") == "bochs-display"]
            t.check(len(disp) == 1, "query-stats devices: %r" % stats)
            t.check(disp[0]["vram-exits"] == 0, "VRAM writes exited: %r" % disp[0])
            t.check(disp[0]["dirty-runs"] >= 1, "the dirty log saw no writes: %r" % disp[0])
            t.check(disp[0]["modes-refused"] == 1 and disp[0]["modes-set"] == 1,
                    "mode counters: %r" % disp[0])

            # A path that cannot be created: an error naming it, no file, the VM lives on.
            bad = os.path.join(d, "no-such-dir", "x.png")
            r = c.execute("screendump", {"filename": bad})
            t.check("error" in r and bad in r["error"]["desc"], "screendump to %s: %r" % (bad, r))
            r = c.execute("screendump", {})
            t.check(r.get("error", {}).get("class") == "InvalidArgument",
                    "screendump without filename: %r" % r)
            r = c.execute("screendump", {"filename": 5})
            t.check(r.get("error", {}).get("class") == "InvalidArgument",
                    "screendump with a number: %r" % r)
            r = c.execute("query-status")
            t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)

            # A reset re-creates the KVM VM: the VRAM slot comes back where the BAR is
            # (config space keeps the moved address) and the guest paints again.
            r = c.execute("reset")
            t.check(r.get("return") == {}, "reset: %r" % r)
            t.check(t.wait_for(lambda: t.read_file(out).count(b"painted") == 2, 15),
                    "the guest did not paint after the reset: %r" % t.read_file(out))
            os.unlink(png)
            r = c.execute("screendump", {"filename": png})
            t.check(r.get("return") == {}, "screendump after reset: %r" % r)
            w, h, rows = read_png(png)
            t.check((w, h) == (W, H) and tuple(rows[10][:3]) == BLOCKS[(0, 0)] and
                    tuple(rows[90][3 * 100:3 * 101]) == BLOCKS[(1, 1)],
                    "after reset: %dx%d, %r" % (w, h, rows[10][:3]))
            stats = c.execute("query-stats")["return"]["devices"]
            disp = [s for s in stats if s.get("kind") == "bochs-display"][0]
            t.check(disp["vram-exits"] == 0, "VRAM writes exited after reset: %r" % disp)

            r = c.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            status, _, err = t.finish(proc, timeout=10)
            c.close()
            t.check(status == 0, "after quit: status %s" % status)
            lines = [l for l in err.decode().split("\n") if "refused mode" in l]
            t.check(len(lines) == 2 and "4000x2000" in lines[0],
                    "expected one line about the refused mode per boot: %r" % err)
        finally:
            t.stop(proc)


def no_display(env):
    # Without --gpu (or a display server) there is no display device, and
    # screendump says so.
    with t.tempdir() as d:
        sock = os.path.join(d, "control.sock")
        png = os.path.join(d, "screen.png")
        proc = t.start(env, ["--firmware", env.image("bochs"), "--serial", "none",
                             "--control", sock])
        try:
            t.check(t.wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10),
                    "the control socket did not appear")
            c = t.Control(sock)
            r = c.execute("query-display")
            t.check(r.get("return") == {"device": None, "mode": None, "requested-size": None},
                    "query-display %r" % r)
            r = c.execute("screendump", {"filename": png})
            t.check("error" in r and "no display" in r["error"]["desc"], "screendump: %r" % r)
            t.check(not os.path.exists(png), "screendump left %s behind" % png)
            c.execute("quit")
            t.finish(proc, timeout=10)
            c.close()
        finally:
            t.stop(proc)


def bad_gpu_flag(env):
    res = t.run(env, ["--firmware", env.image("bochs"), "--gpu", "cirrus"])
    lines = res.stderr_lines()
    t.check(res.returncode == 2 and len(lines) == 1 and "cirrus" in lines[0] and
            "bochs or virtio" in lines[0], res.describe())


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([painted_blocks, no_display, bad_gpu_flag]))
