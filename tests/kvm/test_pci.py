# SPDX-License-Identifier: GPL-3.0-or-later
"""pci.bin: a guest enumerates bus 0 through 0xCF8/0xCFC and finds the devices the flags ask for."""

import os
import re
import sys

import vmmtest as t


def enumerate_bus(env, extra):
    r = t.run(env, ["--firmware", env.image("pci"), "--serial", "stdio"] + extra)
    t.check(r.returncode == 0, "expected status 0\n" + r.describe())
    t.check(b"pci done" in r.stdout, "the guest did not finish: %r" % r.stdout)
    found = {}
    for m in re.finditer(rb"pci ([0-9a-f]{2}) ([0-9a-f]{4}):([0-9a-f]{4}) ([0-9a-f]{6})", r.stdout):
        found[int(m.group(1), 16)] = (m.group(2).decode() + ":" + m.group(3).decode(),
                                      m.group(4).decode())
    return found


def default_devices(env):
    found = enumerate_bus(env, [])
    ids = sorted(v[0] for v in found.values())
    # Host bridge in slot 0, then virtio-rng and virtio-balloon, always present.
    t.check(found.get(0) == ("8086:1237", "060000"), "slot 0: %r" % (found.get(0),))
    t.check(ids == ["1af4:1044", "1af4:1045", "8086:1237"], "devices: %r" % ids)


def flagged_devices(env):
    with t.tempdir() as d:
        disk = os.path.join(d, "disk.img")
        ro = os.path.join(d, "ro.img")
        for path, size in ((disk, 16 << 20), (ro, 1 << 20)):
            with open(path, "wb") as f:
                f.truncate(size)
        found = enumerate_bus(env, ["--disk", "path=" + disk, "--disk", "path=%s,readonly=on" % ro,
                                    "--net", "user", "--gpu", "bochs",
                                    "--console", "file:" + os.path.join(d, "console.out")])
    ids = sorted(v[0] for v in found.values())
    # Host bridge, rng, balloon, console, two disks, a NIC, the display and virtio-input's
    # keyboard and tablet.
    want = sorted(["8086:1237", "1af4:1044", "1af4:1045", "1af4:1043", "1af4:1042", "1af4:1042",
                   "1af4:1041", "1234:1111", "1af4:1052", "1af4:1052"])
    t.check(ids == want, "devices: %r, expected %r" % (ids, want))
    classes = {v[0]: v[1] for v in found.values()}
    t.check(classes["1af4:1042"] == "010000", "virtio-blk class %r" % classes["1af4:1042"])
    t.check(classes["1af4:1041"] == "020000", "virtio-net class %r" % classes["1af4:1041"])
    t.check(classes["1234:1111"] == "038000", "bochs-display class %r" % classes["1234:1111"])
    t.check(sorted(found) == list(range(len(found))), "slots not packed from 0: %r" % sorted(found))


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([default_devices, flagged_devices]))
