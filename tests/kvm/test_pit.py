# SPDX-License-Identifier: GPL-3.0-or-later
"""pit.bin: 8254 timer interrupts reach a real-mode guest through the
in-kernel 8259 (the guest counts 5 ticks at 100 Hz, then powers off)."""

import os
import sys

import vmmtest as t


def pit_ticks(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("pit"), "--serial", "file:" + out])
        serial = t.read_file(out)
        t.check(b"pit: waiting for ticks" in serial,
                "the guest did not start; serial: %r\n%s" % (serial, r.describe()))
        t.check(b"ticks 5\r\n" in serial,
                "no timer ticks arrived; serial: %r\n%s" % (serial, r.describe()))
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        # 5 ticks at 100 Hz cannot take less than ~40 ms.
        t.check(r.elapsed >= 0.04, "5 ticks at 100 Hz took only %.3fs" % r.elapsed)


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([pit_ticks]))
