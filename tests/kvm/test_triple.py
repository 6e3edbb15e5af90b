# SPDX-License-Identifier: GPL-3.0-or-later
"""triple.bin: a triple fault ends the VMM with status 1 and one stderr line
naming the exit reason and the guest RIP. On its way the guest checks the
firmware mapping: read-only, and present just below 4 GiB."""

import os
import re
import sys

import vmmtest as t


def triple_fault(env, extra=()):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("triple"), "--serial", "file:" + out]
                  + list(extra))
        serial = t.read_file(out)
        m = re.search(rb"triple: ud2 at ([0-9a-f]{8})", serial)
        t.check(m, "the guest did not reach its fault; serial: %r" % serial)
        rip = int(m.group(1), 16)
        t.check(r.returncode == 1, "expected status 1\n" + r.describe())
        lines = r.stderr_lines()
        t.check(len(lines) == 1, "expected one line on stderr, got %d: %r" % (
            len(lines), lines))
        line = lines[0]
        t.check(re.search(r"(?i)shutdown|triple", line),
                "stderr line does not name the exit (shutdown/triple fault): %r" % line)
        # The RIP in hex, with or without 0x and leading zeros.
        t.check(re.search(r"(?i)(?<![0-9a-f])(0x)?0*%x(?![0-9a-f])" % rip, line),
                "stderr line does not name the guest RIP %#x: %r" % (rip, line))


def triple_fault_no_reboot(env):
    # A triple fault is a crash (status 1), not a reset, even with --no-reboot.
    triple_fault(env, ["--no-reboot"])


def firmware_mapping(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("triple"), "--serial", "file:" + out])
        serial = t.read_file(out)
        t.check(b"rom: read-only ok\r\n" in serial,
                "a guest write to the firmware ROM stuck (or the guest stopped "
                "early); serial: %r\n%s" % (serial, r.describe()))
        t.check(b"rom: at 4 GiB ok\r\n" in serial,
                "the firmware image does not appear at 0xFFFF0000 as it does at "
                "0xF0000; serial: %r\n%s" % (serial, r.describe()))


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([triple_fault, triple_fault_no_reboot, firmware_mapping]))
