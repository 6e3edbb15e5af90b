# SPDX-License-Identifier: GPL-3.0-or-later
"""hello.bin: serial output through each backend and ACPI S5 power-off."""

import os
import sys

import vmmtest as t

HELLO = b"vmdesk guest: hello\r\n"


def serial_file(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("hello"), "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        got = t.read_file(out)
        t.check(got == HELLO, "serial file holds %r, expected %r" % (got, HELLO))
        t.check(HELLO not in r.stdout, "guest output leaked to stdout: %r" % r.stdout)


def serial_file_truncated(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        with open(out, "wb") as f:
            f.write(b"old contents that must go away\n" * 100)
        r = t.run(env, ["--firmware", env.image("hello"), "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        got = t.read_file(out)
        t.check(got == HELLO, "serial file was not truncated: %r" % got[:200])


def serial_stdio(env):
    r = t.run(env, ["--firmware", env.image("hello"), "--serial", "stdio"])
    t.check(r.returncode == 0, "expected status 0\n" + r.describe())
    t.check(HELLO in r.stdout, "stdout %r lacks %r" % (r.stdout, HELLO))


def serial_default_is_stdio(env):
    r = t.run(env, ["--firmware", env.image("hello")])
    t.check(r.returncode == 0, "expected status 0\n" + r.describe())
    t.check(HELLO in r.stdout, "stdout %r lacks %r" % (r.stdout, HELLO))


def serial_none(env):
    r = t.run(env, ["--firmware", env.image("hello"), "--serial", "none"])
    t.check(r.returncode == 0, "expected status 0\n" + r.describe())
    t.check(b"hello" not in r.stdout, "--serial none still printed: %r" % r.stdout)


def memory_and_cpus(env):
    # The smallest RAM allowed, and a second vCPU that just waits for a SIPI.
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("hello"), "--memory", "16M",
                        "--cpus", "2", "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        t.check(t.read_file(out) == HELLO, "serial: %r" % t.read_file(out))


def memory_flags(env):
    # --ksm and --hugepages only advise the host kernel; the guest runs alike.
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        r = t.run(env, ["--firmware", env.image("hello"), "--memory", "64",
                        "--ksm", "--hugepages", "--serial", "file:" + out])
        t.check(r.returncode == 0, "expected status 0\n" + r.describe())
        t.check(t.read_file(out) == HELLO, "serial: %r" % t.read_file(out))


def large_firmware_images(env):
    # Firmware bigger than 128 KiB: the image ends just below 4 GiB and its
    # last 128 KiB (here: zeros, then hello's 64 KiB) end at 0xFFFFF. The
    # largest allowed image is 16 MiB.
    with open(env.image("hello"), "rb") as f:
        hello = f.read()
    for total in (256 * 1024, 16 * 1024 * 1024):
        with t.tempdir() as d:
            fw = os.path.join(d, "big.bin")
            with open(fw, "wb") as f:
                f.truncate(total - len(hello))
                f.seek(total - len(hello))
                f.write(hello)
            out = os.path.join(d, "serial.out")
            r = t.run(env, ["--firmware", fw, "--serial", "file:" + out])
            t.check(r.returncode == 0, "%d-byte image: expected status 0\n%s" % (
                total, r.describe()))
            t.check(t.read_file(out) == HELLO, "%d-byte image: serial %r" % (
                total, t.read_file(out)))


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([serial_file, serial_file_truncated, serial_stdio,
                     serial_default_is_stdio, serial_none, memory_and_cpus,
                     memory_flags, large_firmware_images]))
