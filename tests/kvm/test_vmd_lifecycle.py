#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""vmdeskctl and libvmdesk driving real vmdesk-vmm processes: start, a second
start refused, pause and resume seen by another process, the serial console
(Ctrl-] detaches, the VM keeps running), stop, force-off, kill -9 seen as
crashed with its reason, a guest that powers itself off, and the events
stream of a second core instance.

Usage: test_vmd_lifecycle.py VMDESKCTL VMM loop=LOOP.bin hello=HELLO.bin"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest as t  # noqa: E402


class Ctl:
    def __init__(self, binary, vmm, root):
        self.binary = binary
        self.env = dict(os.environ)
        for var, sub in (("XDG_CONFIG_HOME", "c"), ("XDG_DATA_HOME", "d"),
                         ("XDG_STATE_HOME", "s"), ("XDG_RUNTIME_DIR", "r"),
                         ("XDG_CACHE_HOME", "k")):
            self.env[var] = os.path.join(root, sub)
        self.env["VMDESK_VMM"] = vmm
        self.runtime = os.path.join(root, "r", "vmdesk")

    def run(self, *args, expect=0, stdin=None):
        p = subprocess.run([self.binary] + list(args), env=self.env, input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        t.log("vmdeskctl %s -> %d %s" % (" ".join(args), p.returncode, err.strip()))
        if expect is not None and p.returncode != expect:
            t.fail("vmdeskctl %s: status %d, expected %d; stderr: %s" % (
                " ".join(args), p.returncode, expect, err))
        return out, err

    def info(self, name):
        out, _ = self.run("info", "--json", name)
        return json.loads(out)

    def state(self, name):
        return self.info(name)["state"]


def wait_state(ctl, name, state, within=10):
    ok = t.wait_for(lambda: ctl.state(name) == state, within)
    t.check(ok, "%s did not become %s (it is %s)" % (name, state, ctl.state(name)))


class Events:
    """A second core instance: `vmdeskctl events --json` in its own process."""

    def __init__(self, ctl):
        self.proc = subprocess.Popen([ctl.binary, "events", "--json"], env=ctl.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def states(self, name):
        return [e["state"] for e in self.lines if e["name"] == name]

    def wait(self, name, state, within=10):
        t.check(t.wait_for(lambda: state in self.states(name), within),
                "events never showed %s %s: %r" % (name, state, self.states(name)))

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def console_detach(ctl, name):
    """Attaches the console with stdin a pipe, reads the guest's output, sends Ctrl-]."""
    p = subprocess.Popen([ctl.binary, "console", name], env=ctl.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = b""
    start = time.monotonic()
    os.set_blocking(p.stdout.fileno(), False)
    while len(got) < 20 and time.monotonic() - start < 10:
        chunk = p.stdout.read(4096)
        if chunk:
            got += chunk
        else:
            time.sleep(0.05)
    p.stdin.write(b"\x1d")
    p.stdin.flush()
    status = p.wait(timeout=10)
    t.check(status == 0, "console exited with %d" % status)
    t.check(len(got) >= 20, "the console showed no guest output: %r" % got)


def main():
    if len(sys.argv) < 3:
        t.fail(__doc__)
    binary, vmm = sys.argv[1], sys.argv[2]
    images = dict(a.split("=", 1) for a in sys.argv[3:])
    t.require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmd-kvm-") as root:
        ctl = Ctl(binary, vmm, root)
        ctl.run("create", "a", "--firmware", images["loop"], "--memory", "32M")
        ctl.run("create", "h", "--firmware", images["hello"], "--memory", "32M")
        events = Events(ctl)
        try:
            run_all(ctl, events)
        finally:
            events.close()
            for name in ("a", "h"):
                ctl.run("stop", "--force", name, expect=None)


def run_all(ctl, events):
    events.wait("a", "stopped")
    ctl.run("start", "a")
    info = ctl.info("a")
    t.check(info["state"] == "running", "after start: %r" % info)
    pid = info["pid"]
    t.check(isinstance(pid, int) and pid > 0, "no pid: %r" % info)
    # Detached: its own session, not a child of vmdeskctl.
    t.check(os.getsid(pid) != os.getsid(0), "the VMM shares our session")
    events.wait("a", "running")

    _, err = ctl.run("start", "a", expect=5)
    t.check("already running" in err, "second start: %r" % err)

    ctl.run("pause", "a")
    t.check(ctl.state("a") == "paused", "not paused")
    events.wait("a", "paused")
    ctl.run("resume", "a")
    t.check(ctl.state("a") == "running", "not running after resume")
    t.check(events.states("a")[-1] == "running", "events: %r" % events.states("a"))

    out, _ = ctl.run("list", "--json")
    listed = {v["name"]: v for v in json.loads(out)}
    t.check(listed["a"]["state"] == "running" and listed["h"]["state"] == "stopped",
            "list: %r" % listed)

    console_detach(ctl, "a")
    t.check(ctl.state("a") == "running", "the VM stopped when the console detached")

    ctl.run("reset", "a")
    t.check(ctl.state("a") == "running", "not running after reset")

    # A firmware guest has no ACPI power button handler: stop sends powerdown, waits
    # --timeout seconds, then quits the VMM.
    start = time.monotonic()
    ctl.run("stop", "--timeout", "1", "a")
    took = time.monotonic() - start
    t.check(1.0 <= took < 8, "stop --timeout 1 took %.1f s" % took)
    t.check(ctl.state("a") == "stopped", "not stopped after stop")
    t.check(not os.path.exists(os.path.join(ctl.runtime, "a.sock")), "socket left behind")
    events.wait("a", "shutting-down")
    ctl.run("pause", "a", expect=5)

    # kill -9 of the VMM: crashed, with the reason.
    ctl.run("start", "a")
    pid = ctl.info("a")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_state(ctl, "a", "crashed")
    info = ctl.info("a")
    t.check("killed by signal 9" in info.get("crash_reason", ""), "reason: %r" % info)
    events.wait("a", "crashed")
    t.check(not os.path.exists(os.path.join(ctl.runtime, "a.sock")),
            "the dead VM's socket was not removed")

    # Force-off.
    ctl.run("start", "a")
    ctl.run("stop", "--force", "a")
    t.check(ctl.state("a") == "stopped", "not stopped after force-off")

    # A guest that prints and powers off by itself: stopped, not crashed.
    ctl.run("start", "h")
    wait_state(ctl, "h", "stopped")
    events.wait("h", "stopped")
    t.log("events seen: %r" % events.states("a"))


if __name__ == "__main__":
    try:
        main()
    except t.TestFailure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
    print("PASS", flush=True)
