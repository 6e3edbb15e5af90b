#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmdeskctl starts VMs whose definitions have disks and network cards: the
definition libvmdesk writes is the one vmdesk-vmm reads (--config), a disk
held by another VM is refused with that VM's name, and nothing of the refused
start is left behind.

Usage: test_vmd_devices.py VMDESKCTL VMM loop=LOOP.bin"""

import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest as t  # noqa: E402
from test_vmd_lifecycle import Ctl  # noqa: E402


def main():
    if len(sys.argv) < 3:
        t.fail(__doc__)
    binary, vmm = sys.argv[1], sys.argv[2]
    images = dict(a.split("=", 1) for a in sys.argv[3:])
    t.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmd-kvm-") as root:
        ctl = Ctl(binary, vmm, root)
        try:
            run_all(ctl, images["loop"])
        finally:
            for name in ("d1", "d2", "n1"):
                ctl.run("stop", "--force", name, expect=None)


def run_all(ctl, loop):
    out, _ = ctl.run("disk-create", "shared.raw", "16M")
    disk = out.strip()
    t.check(os.path.getsize(disk) == 16 << 20, "disk-create made %d bytes" % os.path.getsize(disk))
    # A tiny firmware guest ignores the PCI disk; the VMM still opens and locks it.
    ctl.run("create", "d1", "--firmware", loop, "--memory", "32M", "--disk", disk)
    ctl.run("create", "d2", "--firmware", loop, "--memory", "32M", "--disk", disk)
    ctl.run("edit", "d1", 'disks=[{"path": "%s", "cache": "none", "serial": "vmd-d1"}]' % disk)

    ctl.run("start", "d1")
    info = ctl.info("d1")
    t.check(info["state"] == "running", "d1 with a disk did not start: %r" % info)
    # The VMM got the document itself.
    with open(os.path.join(ctl.runtime, "d1.vm.json")) as f:
        ran = json.load(f)
    t.check(ran["disks"][0]["serial"] == "vmd-d1", "the run's definition: %r" % ran)

    # The same writable image in a second VM: refused, naming the VM that holds it.
    _, err = ctl.run("start", "d2", expect=1)
    t.check(len(err.strip().split("\n")) == 1, "more than one line: %r" % err)
    t.check(re.search(r"in use by VM 'd1' \(vmdesk-vmm pid %d\)" % info["pid"], err),
            "the holder is not named: %r" % err)
    t.check(disk in err, "the image is not named: %r" % err)
    for f in ("d2.sock", "d2.serial", "d2.vm.json"):
        t.check(not os.path.exists(os.path.join(ctl.runtime, f)), "%s left behind" % f)
    t.check(ctl.state("d1") == "running", "d1 suffered from d2's refused start")

    ctl.run("stop", "--timeout", "1", "d1")
    t.check(not os.path.exists(os.path.join(ctl.runtime, "d1.vm.json")),
            "the run's definition was left behind")
    # The lock went with d1: now d2 starts.
    ctl.run("start", "d2")
    t.check(ctl.state("d2") == "running", "d2 did not start once d1 stopped")
    ctl.run("stop", "--force", "d2")

    # A network card with port forwards (user networking).
    ctl.run("create", "n1", "--firmware", loop, "--memory", "32M")
    ctl.run("edit", "n1", 'net=[{"type": "user", "mac": "52:54:00:12:34:99", '
            '"hostfwd": ["tcp:127.0.0.1:0-:22"]}]', expect=4)
    ctl.run("edit", "n1", 'net=[{"type": "user", "mac": "52:54:00:12:34:99", '
            '"hostfwd": ["tcp:127.0.0.1:%d-:22"]}]' % free_port())
    ctl.run("start", "n1")
    t.check(ctl.state("n1") == "running", "n1 with a NIC did not start")
    ctl.run("stop", "--force", "n1")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    try:
        main()
    except t.TestFailure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
    print("PASS", flush=True)
