# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDL window (--display sdl) under Xvfb: bochs.bin's four colour blocks appear in a
window titled with the VM's name and state (pause shows in the title), and closing the
window presses the power button (the guest, which has no ACPI driver, keeps running).
Skips (77) without Xvfb, xwininfo or ImageMagick's import.

    python3 test_sdl.py VMM x11_close=PATH bochs=IMG
"""

import os
import re
import shutil
import subprocess
import sys
import time

import vmmtest as t

NAME = "sdl-test-vm"
# Pixel (x, y) in the guest's 128x96 mode -> RGB.
BLOCKS = {(10, 10): (255, 0, 0), (100, 10): (0, 255, 0), (10, 80): (0, 0, 255),
          (100, 80): (255, 255, 255)}


def find_window(display):
    """(title, x, y, w, h) of our window, or None."""
    p = subprocess.run(["xwininfo", "-root", "-tree", "-display", display],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.search(r'"([^"]*%s[^"]*)".*\s(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)'
                      % NAME, line)
        if m:
            return (m.group(1), int(m.group(4)), int(m.group(5)), int(m.group(2)),
                    int(m.group(3)))
    return None


def screenshot_pixels(display, d, win):
    shot = os.path.join(d, "shot.png")
    subprocess.run(["import", "-display", display, "-window", "root", shot], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, wx, wy, ww, wh = win
    got = {}
    for (x, y) in BLOCKS:
        # The window shows the 128x96 mode scaled to its size.
        sx, sy = wx + x * ww // 128, wy + y * wh // 96
        p = subprocess.run(["convert", shot, "-format", "%%[pixel:p{%d,%d}]" % (sx, sy),
                            "info:"], stdout=subprocess.PIPE, check=True)
        nums = re.findall(r"\d+", p.stdout.decode())
        got[(x, y)] = tuple(int(n) for n in nums[:3])
    return got


def window(env):
    for tool in ("Xvfb", "xwininfo", "import", "convert"):
        if not shutil.which(tool):
            t.skip("%s is not installed (tools/install-deps installs it)" % tool)
    xclose = env.images.get("x11_close")
    t.check(xclose and os.path.exists(xclose), "x11_close=PATH is missing")
    with t.tempdir() as d:
        display = ":%d" % (90 + os.getpid() % 500)
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten",
                                 "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = None
        try:
            sock = "/tmp/.X11-unix/X" + display[1:]
            t.check(t.wait_for(lambda: os.path.exists(sock), 10), "Xvfb did not start")
            os.environ["DISPLAY"] = display
            # Sanitizer builds: the X11, GL and D-Bus libraries SDL loads keep allocations
            # for the process's life and are unloaded at SDL_Quit, so their leak reports
            # cannot be matched by suppressions. kvm-spice and the other tests check the
            # VMM's own leaks; here only memory errors count.
            os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                          ":detect_leaks=0").lstrip(":")
            out = os.path.join(d, "serial.out")
            ctl = os.path.join(d, "control.sock")
            proc = t.start(env, ["--firmware", env.image("bochs"), "--serial", "file:" + out,
                                 "--control", ctl, "--display", "sdl", "--name", NAME])
            t.check(t.wait_for(lambda: b"painted" in t.read_file(out) or
                               proc.poll() is not None, 30), "the guest did not paint")
            t.check(proc.poll() is None, "the VMM ended")
            c = t.Control(ctl)
            win = t.wait_for(lambda: find_window(display), 10)
            t.check(win, "no window titled *%s* (xwininfo)" % NAME)
            t.log("window: %r" % (win,))
            t.check(win[0] == "%s (running) - vmdesk" % NAME, "title %r" % win[0])
            got = t.wait_for(lambda: (lambda g: g if g == BLOCKS else None)(
                screenshot_pixels(display, d, find_window(display))), 10, 0.5)
            if not got:
                got = screenshot_pixels(display, d, find_window(display))
            t.check(got == BLOCKS, "screenshot pixels %r, expected %r" % (got, BLOCKS))

            # A resize by the user asks the guest for that size (bochs-display cannot
            # follow: the request is remembered and the picture scales).
            subprocess.run([xclose, "--resize", "400x300", NAME], check=True)
            asked = t.wait_for(lambda: c.execute("query-display")["return"].get(
                "requested-size") == {"width": 400, "height": 300}, 5, 0.2)
            t.check(asked, "resizing the window did not request 400x300: %r" %
                    (c.execute("query-display")["return"],))

            c.execute("pause")
            paused = t.wait_for(lambda: (find_window(display) or ("",))[0].endswith(
                "(paused) - vmdesk"), 5)
            t.check(paused, "title after pause: %r" % (find_window(display),))
            c.execute("resume")

            subprocess.run([xclose, NAME], check=True)
            closed = t.wait_for(lambda: c.execute("query-display")["return"]["sdl"][
                "close-requests"] == 1, 5, 0.2)
            t.check(closed, "closing the window did not reach the VMM")
            t.check(c.execute("query-status")["return"]["state"] == "running",
                    "the VM stopped: the guest has no ACPI driver and should ignore the button")
            c.execute("quit")
            rc, _, _ = t.finish(proc)
            t.check(rc == 0, "exit status %d" % rc)
        finally:
            if proc:
                t.stop(proc)
            xvfb.terminate()
            xvfb.wait()


def main():
    if t.kvm_problem():
        t.skip(t.kvm_problem())
    return t.main([window])


if __name__ == "__main__":
    sys.exit(main())
