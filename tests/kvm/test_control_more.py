# SPDX-License-Identifier: GPL-3.0-or-later
"""The rest of the control protocol against the real VMM with loop.bin:
query-devices, query-stats, reset (running and paused), powerdown and
balloon-set on a guest without drivers, the SHUTDOWN event on quit and on
SIGTERM, and --console unix: (its socket is created and removed; a bad
--console value leaves nothing behind)."""

import os
import signal
import sys

import vmmtest as t


def loop_starts(path):
    return t.read_file(path).count(b"loop start")


def start_loop(env, d, extra=()):
    out = os.path.join(d, "serial.out")
    sock = os.path.join(d, "control.sock")
    proc = t.start(env, ["--firmware", env.image("loop"), "--serial", "file:" + out,
                         "--control", sock] + list(extra))
    t.check(t.wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10),
            "the control socket did not appear")
    c = t.Control(sock)
    t.check(t.wait_for(lambda: loop_starts(out) >= 1, 10), "the guest did not start")
    return proc, c, out, sock


def devices_and_stats(env):
    with t.tempdir() as d:
        hvc = os.path.join(d, "hvc.sock")
        proc, c, out, sock = start_loop(env, d, ["--console", "unix:" + hvc])
        try:
            t.check("query-devices" in c.greeting["vmdesk"]["commands"], "greeting lacks it")
            devs = c.execute("query-devices")["return"]["devices"]
            kinds = {x["id"]: x["kind"] for x in devs}
            t.check(kinds.get("rng0") == "virtio-rng", "no rng0: %r" % devs)
            t.check(kinds.get("balloon0") == "virtio-balloon", "no balloon0: %r" % devs)
            t.check(kinds.get("console0") == "virtio-console", "no console0: %r" % devs)
            t.check(all(isinstance(x.get("pci-slot"), int) for x in devs), "slots: %r" % devs)
            t.check(os.path.exists(hvc), "the --console socket %s is missing" % hvc)

            s1 = c.execute("query-stats")["return"]
            t.wait_for(lambda: False, 1.0)
            s2 = c.execute("query-stats")["return"]
            v1, v2 = s1["vcpus"][0], s2["vcpus"][0]
            t.check(v2["exits"] > v1["exits"], "exits did not grow: %r -> %r" % (v1, v2))
            t.check(v2["io-exits"] > v1["io-exits"], "io-exits did not grow")
            t.check(v2.get("cpu-time-ns", 0) > v1.get("cpu-time-ns", 0), "no CPU time")
            t.check(s2["process"].get("rss-bytes", 0) > 0, "no RSS: %r" % s2["process"])
            bal = [x for x in s2["devices"] if x["id"] == "balloon0"][0]
            t.check(bal["target"] == 512 << 20 and bal["actual"] == 512 << 20,
                    "balloon: %r" % bal)

            # No balloon driver: the target is still recorded; out of range is refused.
            r = c.execute("balloon-set", {"target-mb": 128})
            t.check(r.get("return") == {}, "balloon-set: %r" % r)
            bal = [x for x in c.execute("query-stats")["return"]["devices"]
                   if x["id"] == "balloon0"][0]
            t.check(bal["target"] == 128 << 20, "target not set: %r" % bal)
            r = c.execute("balloon-set", {"target-mb": 513})
            t.check(r.get("error", {}).get("class") == "InvalidArgument", "513M: %r" % r)
            # A guest that ignores the power button keeps running.
            t.check(c.execute("powerdown").get("return") == {}, "powerdown refused")
            t.check(c.execute("query-status")["return"]["state"] == "running", "not running")

            r = c.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            ev = c.wait_event("SHUTDOWN")
            t.check(ev["data"] == {"reason": "host-request", "detail": "quit command"},
                    "SHUTDOWN: %r" % ev)
            status, _, _ = t.finish(proc)
            t.check(status == 0, "status %d after quit" % status)
            t.check(not os.path.exists(hvc), "the --console socket was left behind")
            t.check(not os.path.exists(sock), "the control socket was left behind")
        finally:
            t.stop(proc)


def reset(env):
    with t.tempdir() as d:
        proc, c, out, sock = start_loop(env, d)
        try:
            r = c.execute("reset")
            t.check(r.get("return") == {}, "reset: %r" % r)
            ev = c.wait_event("RESET")
            t.check(ev["data"] == {"reason": "host-request"}, "RESET: %r" % ev)
            t.check(t.wait_for(lambda: loop_starts(out) == 2, 10),
                    "the guest did not start again: %r" % t.read_file(out)[-200:])
            # Paused: the reset happens, the VM stays paused until resumed.
            c.execute("pause")
            c.execute("reset")
            t.check(c.execute("query-status")["return"]["state"] == "paused", "not paused")
            t.wait_for(lambda: False, 1.0)
            t.check(loop_starts(out) == 2, "the guest ran while paused after a reset")
            c.execute("resume")
            t.check(t.wait_for(lambda: loop_starts(out) == 3, 10), "no third start")

            proc.send_signal(signal.SIGTERM)
            ev = c.wait_event("SHUTDOWN")
            t.check(ev["data"] == {"reason": "host-request", "detail": "signal"},
                    "SHUTDOWN: %r" % ev)
            status, _, _ = t.finish(proc)
            t.check(status == 0, "status %d after SIGTERM" % status)
        finally:
            t.stop(proc)


def bad_console(env):
    with t.tempdir() as d:
        sock = os.path.join(d, "control.sock")
        bad = os.path.join(d, "no-such-dir", "hvc.sock")
        res = t.run(env, ["--firmware", env.image("loop"), "--serial", "none",
                          "--control", sock, "--console", "unix:" + bad])
        lines = res.stderr_lines()
        t.check(res.returncode == 2, res.describe())
        t.check(len(lines) == 1 and "--console unix:" + bad in lines[0], res.describe())
        t.check(os.listdir(d) == [], "left behind: %r" % os.listdir(d))


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([devices_and_stats, reset, bad_console]))
