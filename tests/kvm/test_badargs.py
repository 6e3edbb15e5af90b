# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad command lines and inputs: exit status 2, one stderr line naming the
offending flag or value, and nothing left behind (no serial file, no control
socket). Runs the real binary; most cases need no KVM."""

import os
import shutil
import subprocess
import sys

import vmmtest as t

KVM_PROBLEM = t.kvm_problem()


def expect_usage_error(env, args, names, needs_kvm=False):
    """Runs the vmm with a serial file and a control socket in a fresh
    directory, then args; expects status 2, one stderr line (warnings aside)
    mentioning one of names, and neither file created."""
    with t.tempdir() as d:
        serial = os.path.join(d, "serial.out")
        sock = os.path.join(d, "control.sock")
        # The extra flags go first, so that a flag missing its value can
        # come last.
        full = ["--serial", "file:" + serial, "--control", sock] + list(args)
        r = t.run(env, full, timeout=20)
        lines = r.stderr_lines()
        if needs_kvm and KVM_PROBLEM and r.returncode != 0 and lines and \
                "/dev/kvm" in lines[0] and \
                not any(n.lower() in lines[0].lower() for n in names):
            # Without KVM the vmm may stop before it looks at the input.
            t.log("  (no usable /dev/kvm, the vmm stopped there: %s)" % KVM_PROBLEM)
        else:
            t.check(r.returncode == 2, "expected status 2\n" + r.describe())
            t.check(len(lines) == 1, "expected one line on stderr, got %r" % lines)
            t.check(any(n.lower() in lines[0].lower() for n in names),
                    "the stderr line does not name %s: %r" % (" or ".join(map(repr, names)),
                                                             lines[0]))
        left = sorted(os.listdir(d))
        t.check(not left, "files left behind after a usage error: %r" % left)


def unknown_flag(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--bogus-flag"],
                       ["--bogus-flag"])


def bad_memory_suffix(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--memory", "12Q"], ["12Q"])


def memory_too_small(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--memory", "8M"],
                       ["8M", "memory"])


def memory_not_page_multiple(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--memory", "16387K"],
                       ["16387K", "memory"])


def zero_cpus(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--cpus", "0"], ["cpus"])


def too_many_cpus(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--cpus", "256"], ["cpus", "256"])


def bad_serial_backend(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--serial", "bogus:x"],
                       ["bogus", "serial"])


def missing_value(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--memory"], ["--memory", "memory"])


def no_boot_source(env):
    expect_usage_error(env, ["--memory", "64M"], ["--kernel", "--firmware"])


def kernel_and_firmware(env):
    expect_usage_error(env, ["--firmware", env.image("hello"), "--kernel",
                             env.image("zeropage")], ["--kernel", "--firmware"])


def missing_firmware_file(env):
    with t.tempdir() as d:
        path = os.path.join(d, "no-such-firmware.bin")
        expect_usage_error(env, ["--firmware", path], [path, "no-such-firmware.bin"])


def firmware_bad_size(env):
    with t.tempdir() as d:
        odd = os.path.join(d, "odd.bin")
        with open(odd, "wb") as f:
            f.write(b"\xf4" * 1000)
        expect_usage_error(env, ["--firmware", odd], [odd, "odd.bin"], needs_kvm=True)
        huge = os.path.join(d, "huge.bin")
        with open(huge, "wb") as f:
            f.truncate(16 * 1024 * 1024 + 4096)
        expect_usage_error(env, ["--firmware", huge], [huge, "huge.bin"], needs_kvm=True)


def kernel_not_bzimage(env):
    # The hello firmware image has no boot sector signature or HdrS header.
    path = env.image("hello")
    expect_usage_error(env, ["--kernel", path], [path, os.path.basename(path)],
                       needs_kvm=True)


def initrd_too_large(env):
    with t.tempdir() as d:
        big = os.path.join(d, "big.initrd")
        with open(big, "wb") as f:
            f.truncate(40 * 1024 * 1024)        # sparse
        expect_usage_error(env, ["--kernel", env.image("zeropage"), "--initrd", big,
                                 "--memory", "32M"],
                           [big, "big.initrd", "initrd"], needs_kvm=True)


def missing_initrd(env):
    with t.tempdir() as d:
        path = os.path.join(d, "no-such.initrd")
        expect_usage_error(env, ["--kernel", env.image("zeropage"), "--initrd", path],
                           [path, "no-such.initrd"])


def unopenable_outputs(env):
    # A serial file or control socket that cannot be created: status 2, the
    # path named, and the other one (which could be created) not left behind.
    with t.tempdir() as d:
        bad = os.path.join(d, "no-such-dir", "x")
        serial = os.path.join(d, "serial.out")
        sock = os.path.join(d, "control.sock")
        for args, name, other in (
                (["--serial", "file:" + serial, "--control", bad], "--control", serial),
                (["--serial", "file:" + bad, "--control", sock], "--serial", sock)):
            r = t.run(env, ["--firmware", env.image("hello")] + args, timeout=20)
            lines = r.stderr_lines()
            t.check(r.returncode == 2, "%s %s: expected status 2\n%s" % (name, bad, r.describe()))
            t.check(len(lines) == 1 and bad in lines[0],
                    "%s %s: expected one stderr line naming the path: %r" % (name, bad, lines))
            t.check(not os.path.exists(other), "%s was left behind" % other)


def console_fails_after_serial(env):
    # --console's file cannot be created after --serial's was: the serial
    # file is removed again (expect_usage_error checks the folder is empty).
    with t.tempdir() as d:
        bad = os.path.join(d, "no-such-dir", "console.out")
        expect_usage_error(env, ["--firmware", env.image("hello"), "--console", "file:" + bad],
                           ["--console"], needs_kvm=True)


def display_libraries_not_linked(env):
    # The display back-ends are modules: a VM without a screen loads none of
    # their libraries.
    r = subprocess.run(["ldd", env.vmm], stdout=subprocess.PIPE, text=True, check=True)
    for lib in ("libspice-server", "libvncserver", "libSDL2", "libgstreamer"):
        t.check(lib not in r.stdout, "vmdesk-vmm links %s:\n%s" % (lib, r.stdout))


def missing_display_module(env):
    # A vmdesk-vmm whose modules are gone: --vnc, --spice and --display sdl
    # each say which module is missing, status 2, nothing left behind.
    with t.tempdir() as d:
        lone = os.path.join(d, "vmdesk-vmm")
        shutil.copy(env.vmm, lone)
        alone = t.Env([sys.argv[0], lone] + ["%s=%s" % kv for kv in env.images.items()])
        for flag, module in ((["--vnc", "unix:" + os.path.join(d, "v.sock")], "vnc"),
                             (["--spice", "unix:" + os.path.join(d, "s.sock")], "spice"),
                             (["--display", "sdl"], "sdl")):
            expect_usage_error(alone, ["--firmware", env.image("hello")] + flag,
                               ["vmdesk-display-%s.so" % module])
        t.check(sorted(os.listdir(d)) == ["vmdesk-vmm"],
                "files left behind: %r" % os.listdir(d))


if __name__ == "__main__":
    sys.exit(t.main([unknown_flag, bad_memory_suffix, memory_too_small,
                     memory_not_page_multiple, zero_cpus, too_many_cpus,
                     bad_serial_backend, missing_value, no_boot_source,
                     kernel_and_firmware, missing_firmware_file, firmware_bad_size,
                     kernel_not_bzimage, initrd_too_large, missing_initrd,
                     unopenable_outputs, console_fails_after_serial,
                     display_libraries_not_linked,
                     missing_display_module]))
