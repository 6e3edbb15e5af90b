# SPDX-License-Identifier: GPL-3.0-or-later
"""reset.bin: i8042 and 0xCF9 resets, with and without --no-reboot."""

import os
import sys

import vmmtest as t


def no_reboot(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("reset"), "--no-reboot",
                        "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        got = t.read_file(out)
        t.check(got == b"boot 1\r\n",
                "with --no-reboot the guest must stop at its first reset; "
                "serial: %r" % got)


def reboots(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("reset"), "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        got = t.read_file(out)
        want = b"boot 1\r\nboot 2\r\nboot 3\r\n"
        t.check(b"reset failed" not in got, "a reset did not happen; serial: %r" % got)
        t.check(got == want, "serial %r, expected %r (boot 1 resets via the "
                "i8042, boot 2 via 0xCF9, boot 3 powers off)" % (got, want))


def reboots_smp(env):
    # A reset must take every vCPU back to its reset state.
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("reset"), "--cpus", "2",
                        "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        got = t.read_file(out)
        t.check(got == b"boot 1\r\nboot 2\r\nboot 3\r\n", "serial %r" % got)


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([no_reboot, reboots, reboots_smp]))
