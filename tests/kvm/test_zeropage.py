# SPDX-License-Identifier: GPL-3.0-or-later
"""zeropage.bin (a tiny bzImage): the 64-bit boot protocol as vmdesk-vmm
implements it. The guest prints the zero page it was given (e820 map,
command line, initrd, ACPI RSDP and tables); this checks it against what was
passed and against docs/vmdesk-vmm.md."""

import os
import re
import sys

import vmmtest as t

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

E820_RAM = 1

# From zeropage.asm's setup header.
LOAD_ADDR = 0x100000
INIT_SIZE = 0x20000
INITRD_ADDR_MAX = 0x37FFFFFF

DEFAULT_CMDLINE = "console=ttyS0"


def parse(serial):
    text = serial.decode("ascii", "replace")
    info = {"e820": [], "tables": {}, "probe": {}, "lines": text.split("\r\n")}
    for line in info["lines"]:
        w = line.split()
        if not w:
            continue
        k = w[0]
        if k == "boot_params":
            info["boot_params"] = int(w[1], 16)
        elif k == "regs":
            info["regs"] = {w[i]: int(w[i + 1], 16) for i in range(1, len(w) - 1, 2)}
        elif k == "segs":
            info["segs"] = dict(x.split("=") for x in w[1:])
        elif k == "hdr":
            info["hdr"] = w[1]
            info["hdr_version"] = int(w[3], 16)
            info["loader"] = int(w[5], 16)
        elif k == "e820_entries":
            info["e820_entries"] = int(w[1], 16)
        elif k == "e820":
            info["e820"].append((int(w[1], 16), int(w[2], 16), int(w[3], 16)))
        elif k == "cmdline_ptr":
            info["cmdline_ptr"] = int(w[1], 16)
        elif k == "cmdline":
            rest = line[len("cmdline "):]
            if rest == "none":
                info["cmdline"] = None
            else:
                t.check(rest.startswith("[") and rest.endswith("]"), "bad line %r" % line)
                info["cmdline"] = rest[1:-1]
        elif k == "initrd":
            info["initrd"] = (int(w[1], 16), int(w[2], 16))
        elif k == "initrd_sum":
            info["initrd_sum"] = int(w[1], 16)
            info["initrd_first"] = int(w[3], 16)
        elif k == "rsdp":
            info["rsdp"] = line
            info["rsdp_addr"] = int(w[1], 16)
        elif k == "xsdt":
            info["xsdt"] = line
        elif k == "table":
            info["tables"][w[1]] = line
        elif k == "dsdt":
            info["dsdt"] = line
        elif k == "probe":
            info["probe"][int(w[1], 16)] = int(w[2], 16)
    return info


def boot(env, d, memory=None, cmdline=None, initrd=None):
    out = os.path.join(d, "serial.out")
    args = ["--kernel", env.image("zeropage"), "--serial", "file:" + out]
    if memory:
        args += ["--memory", memory]
    if cmdline is not None:
        args += ["--cmdline", cmdline]
    if initrd:
        args += ["--initrd", initrd]
    r = t.run(env, args)
    serial = t.read_file(out)
    t.log("serial:\n" + serial.decode("ascii", "replace"))
    t.check(b"zeropage: 64-bit entry\r\n" in serial,
            "the kernel did not reach its 64-bit entry\n" + r.describe())
    t.check(b"\r\ndone\r\n" in serial, "the kernel did not finish\n" + r.describe())
    t.check(r.returncode == 0, "expected status 0 (ACPI S5)\n" + r.describe())
    return parse(serial)


def overlaps(a, alen, b, blen):
    return a < b + blen and b < a + alen


def in_usable(e820, addr, length):
    return any(t == E820_RAM and s <= addr and addr + length <= s + n for s, n, t in e820)


def check_cpu_state(info):
    regs = info.get("regs")
    t.check(regs, "no register line")
    t.check(regs["cr0"] & 0x80000001 == 0x80000001, "CR0.PE/PG not set: %#x" % regs["cr0"])
    t.check(regs["cr4"] & 0x20, "CR4.PAE not set: %#x" % regs["cr4"])
    t.check(regs["efer"] & 0x500 == 0x500, "EFER.LME/LMA not set: %#x" % regs["efer"])
    # boot.rst, 64-bit boot protocol: CS = __BOOT_CS (0x10), DS/ES/SS = __BOOT_DS (0x18).
    segs = info["segs"]
    t.check(segs == {"cs": "0010", "ds": "0018", "es": "0018", "ss": "0018"},
            "segment selectors %r, boot protocol wants cs=0x10, ds=es=ss=0x18" % segs)
    t.check(info["hdr"] == "ok", "the setup header (HdrS) was not copied into the zero page")
    t.check(info["hdr_version"] == 0x020F, "hdr.version %#x" % info["hdr_version"])
    t.check(info["loader"] != 0, "hdr.type_of_loader was left 0")


def check_e820(info, mem):
    e820 = info["e820"]
    t.check(info["e820_entries"] == len(e820) and e820, "e820 entries: %r" % e820)
    prev_end = 0
    for s, n, typ in e820:
        t.check(n > 0, "empty e820 entry %#x+%#x" % (s, n))
        t.check(s >= prev_end, "e820 entries unsorted or overlapping at %#x" % s)
        prev_end = s + n
    usable = [(s, n) for s, n, typ in e820 if typ == E820_RAM]
    total = sum(n for s, n in usable)
    low = min(mem, 3 * GiB)
    high = mem - low
    # Holes: nothing usable in the legacy VGA/BIOS area or the device hole.
    for s, n in usable:
        t.check(not overlaps(s, n, 0xA0000, 0x60000),
                "usable e820 range %#x+%#x covers 0xA0000-0xFFFFF" % (s, n))
        t.check(not overlaps(s, n, 3 * GiB, GiB),
                "usable e820 range %#x+%#x covers the 3-4 GiB device hole" % (s, n))
        t.check(s + n <= low or (s >= 4 * GiB and s + n <= 4 * GiB + high),
                "usable e820 range %#x+%#x lies outside the guest's RAM" % (s, n))
    t.check(usable[0][0] == 0, "RAM does not start at 0: %r" % usable[0:1])
    t.check(in_usable(e820, LOAD_ADDR, INIT_SIZE),
            "the kernel's load area %#x+%#x is not usable RAM" % (LOAD_ADDR, INIT_SIZE))
    # Low RAM runs up to min(memory, 3 GiB), the rest sits at 4 GiB.
    t.check(in_usable(e820, LOAD_ADDR, low - LOAD_ADDR) or
            any(s + n == low for s, n in usable),
            "usable low RAM does not reach %#x" % low)
    if high:
        t.check((4 * GiB, high) in usable,
                "no usable e820 range %#x+%#x at 4 GiB: %r" % (4 * GiB, high, usable))
    else:
        t.check(all(s < 4 * GiB for s, n in usable), "RAM above 4 GiB with %#x" % mem)
    # Everything but the 640 KiB-1 MiB window and a little firmware/ACPI
    # space is usable.
    t.check(total <= mem - 0x60000, "usable e820 RAM %#x exceeds --memory %#x minus "
            "the 0xA0000-0xFFFFF hole" % (total, mem))
    t.check(total >= mem - MiB, "usable e820 RAM %#x is more than 1 MiB short of "
            "--memory %#x" % (total, mem))


def check_acpi(info):
    t.check(info.get("rsdp_addr") == 0xE0000,
            "acpi_rsdp_addr is not 0xE0000: %r" % info.get("rsdp"))
    t.check(re.search(r"sig ok csum ok rev 0[2-9]", info["rsdp"]),
            "RSDP bad (want signature, checksum, revision >= 2): %r" % info["rsdp"])
    t.check(info.get("xsdt", "").endswith("sig ok csum ok"), "XSDT bad: %r" % info.get("xsdt"))
    for sig in ("FACP", "APIC"):
        t.check(sig in info["tables"], "XSDT lacks %s: %r" % (sig, info["tables"]))
    for sig, line in info["tables"].items():
        t.check(line.endswith("csum ok"), "table with a bad checksum: %r" % line)
    t.check(info.get("dsdt", "").endswith("sig ok csum ok s5 yes"),
            "DSDT missing, broken or without _S5: %r" % info.get("dsdt"))


def check_probes(info):
    t.check(info["probe"].get(0xFEB00000) == 0xFFFFFFFF,
            "a read from unassigned MMIO (0xFEB00000) returned %#x, not all ones"
            % info["probe"].get(0xFEB00000, -1))
    lapic_ver = info["probe"].get(0xFEE00030)
    t.check(lapic_ver is not None and lapic_ver != 0xFFFFFFFF,
            "no local APIC at 0xFEE00000 (version register %r)" % lapic_ver)


def make_initrd(path, size):
    # Deterministic, not all zero, not periodic in 8 bytes.
    data = bytes((i * 7 + (i >> 8) + 3) & 0xFF for i in range(size))
    with open(path, "wb") as f:
        f.write(data)
    return data


def check_boot(env, memory, mem, cmdline=None, initrd_size=None):
    with t.tempdir() as d:
        data = None
        initrd = None
        if initrd_size is not None:
            initrd = os.path.join(d, "initrd.img")
            data = make_initrd(initrd, initrd_size)
        info = boot(env, d, memory=memory, cmdline=cmdline, initrd=initrd)
    check_cpu_state(info)
    check_e820(info, mem)
    e820 = info["e820"]

    want_cmdline = DEFAULT_CMDLINE if cmdline is None else cmdline
    t.check(info.get("cmdline") == want_cmdline,
            "command line %r, expected %r" % (info.get("cmdline"), want_cmdline))
    cptr = info["cmdline_ptr"]
    clen = len(want_cmdline) + 1
    t.check(cptr < 4 * GiB and cptr != 0, "cmd_line_ptr %#x" % cptr)
    t.check(not overlaps(cptr, clen, LOAD_ADDR, INIT_SIZE),
            "the command line at %#x overlaps the kernel" % cptr)
    bp = info["boot_params"]
    t.check(0 < bp < 4 * GiB and bp % 16 == 0, "boot_params at %#x" % bp)
    t.check(not overlaps(bp, 4096, LOAD_ADDR, INIT_SIZE),
            "the zero page at %#x overlaps the kernel" % bp)
    t.check(not overlaps(bp, 4096, cptr, clen),
            "the zero page at %#x overlaps the command line at %#x" % (bp, cptr))
    t.check(bp + 4096 <= 0xA0000 or bp >= 0x100000,
            "the zero page at %#x sits in the legacy hole" % bp)

    addr, size = info["initrd"]
    if data is None:
        t.check((addr, size) == (0, 0), "initrd %#x+%#x without --initrd" % (addr, size))
    else:
        t.check(size == len(data), "ramdisk_size %#x, the file has %#x bytes" % (size, len(data)))
        t.check(info.get("initrd_sum") == sum(data) & 0xFFFFFFFF,
                "initrd byte sum %#x, expected %#x: contents differ" % (
                    info.get("initrd_sum", -1), sum(data) & 0xFFFFFFFF))
        t.check(info.get("initrd_first") == int.from_bytes(data[:8], "little"),
                "initrd starts with %#x" % info.get("initrd_first", -1))
        t.check(in_usable(e820, addr, size),
                "the initrd %#x+%#x is not in usable RAM" % (addr, size))
        limit = min(INITRD_ADDR_MAX + 1, mem, 3 * GiB)
        t.check(addr + size <= limit, "the initrd %#x+%#x ends above %#x "
                "(initrd_addr_max / low RAM)" % (addr, size, limit))
        # "placed as high in low RAM as the kernel allows"
        t.check(addr + size > limit - 4 * MiB, "the initrd at %#x+%#x is not near "
                "the top of what the kernel allows (%#x)" % (addr, size, limit))
        for what, a, n in (("kernel", LOAD_ADDR, INIT_SIZE), ("command line", cptr, clen),
                           ("zero page", bp, 4096)):
            t.check(not overlaps(addr, size, a, n),
                    "the initrd %#x+%#x overlaps the %s at %#x" % (addr, size, what, a))
    check_acpi(info)
    check_probes(info)


def default_memory(env):
    check_boot(env, None, 512 * MiB)


def small_memory_with_initrd(env):
    check_boot(env, "16M", 16 * MiB, cmdline="x", initrd_size=4099)


def cmdline_and_initrd(env):
    cmdline = "console=ttyS0 root=/dev/vda1 quiet 'single quotes' \"x=a b\" " + "k" * 300
    check_boot(env, "1G", GiB, cmdline=cmdline, initrd_size=8192)


def three_gib(env):
    check_boot(env, "3G", 3 * GiB, initrd_size=4096)


def five_gib(env):
    # The initrd must stay below initrd_addr_max (0x37FFFFFF) even though RAM
    # reaches far above; the rest of RAM sits at 4 GiB.
    check_boot(env, "5G", 5 * GiB, cmdline="console=ttyS0 mem=5G", initrd_size=5000)


def memory_in_kib(env):
    check_boot(env, "65536K", 64 * MiB)


def memory_without_suffix(env):
    # No suffix means MiB, as in QEMU.
    check_boot(env, "256", 256 * MiB)


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([default_memory, small_memory_with_initrd, cmdline_and_initrd,
                     three_gib, five_gib, memory_in_kib, memory_without_suffix]))
