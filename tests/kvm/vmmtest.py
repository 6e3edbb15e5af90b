# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for vmdesk's kvm test tier.

Each test program is run as

    python3 test_X.py VMM [NAME=IMAGE ...]

where VMM is the vmdesk-vmm binary and each NAME=IMAGE names a built test
guest (tests/guests). Without arguments, VMDESK_VMM and VMDESK_GUESTS (a
directory holding NAME.bin) are used instead.

Exit status follows meson: 0 pass, 1 fail, 77 skip.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77

# Generous: each guest finishes in well under a second at ~1 M instructions/s,
# but CI hosts can be slow and busy.
RUN_TIMEOUT = 30.0


class TestFailure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def kvm_problem():
    """None if /dev/kvm can be opened read-write, else a one-line reason."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return "/dev/kvm: " + e.strerror
    os.close(fd)
    return None


def require_kvm():
    problem = kvm_problem()
    if problem:
        skip(problem)


class Env:
    """The vmm binary and the guest images named on the command line."""

    def __init__(self, argv):
        self.vmm = None
        self.images = {}
        args = argv[1:]
        if args:
            self.vmm = args[0]
            for a in args[1:]:
                name, sep, path = a.partition("=")
                if not sep:
                    fail("bad argument %r (expected NAME=IMAGE)" % a)
                self.images[name] = path
        else:
            self.vmm = os.environ.get("VMDESK_VMM")
            gdir = os.environ.get("VMDESK_GUESTS")
            if gdir:
                for f in os.listdir(gdir):
                    if f.endswith(".bin"):
                        self.images[f[:-4]] = os.path.join(gdir, f)
        if not self.vmm:
            fail("usage: %s VMM [NAME=IMAGE ...] (or set VMDESK_VMM)" % argv[0])
        if not os.access(self.vmm, os.X_OK):
            fail("vmm %s is not executable" % self.vmm)

    def image(self, name):
        path = self.images.get(name)
        if not path:
            fail("guest image %r was not given" % name)
        if not os.path.isfile(path):
            fail("guest image %s does not exist" % path)
        return path


class Result:
    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def stderr_lines(self):
        """The non-empty stderr lines, without warnings ("...: warning: ...",
        e.g. about a KVM without hardware virtualization): those depend on
        the host, not on what the test checks."""
        text = self.stderr.decode("utf-8", "replace")
        return [line for line in text.split("\n")
                if line.strip() and ": warning: " not in line]

    def describe(self):
        return "%s -> status %s after %.2fs\n  stdout: %r\n  stderr: %r" % (
            " ".join(self.args), self.returncode, self.elapsed,
            self.stdout[-2000:], self.stderr[-2000:])


def run(env, args, timeout=RUN_TIMEOUT, stdin_pipe=True):
    """Runs the vmm with args; returns a Result. A run that outlives timeout
    is killed and fails the test.

    stdin is a pipe that stays open (and empty) until the vmm exits, so a vmm
    that reads its terminal sees neither input nor end of file."""
    cmd = [env.vmm] + list(args)
    rfd = wfd = None
    if stdin_pipe:
        rfd, wfd = os.pipe()
        stdin = rfd
    else:
        stdin = subprocess.DEVNULL
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        if rfd is not None:
            os.close(rfd)
            rfd = None
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            fail("%s did not exit within %.0fs\n  stdout: %r\n  stderr: %r" % (
                " ".join(cmd), timeout, out[-2000:], err[-2000:]))
    finally:
        for fd in (rfd, wfd):
            if fd is not None:
                os.close(fd)
    res = Result(cmd, proc.returncode, out, err, time.monotonic() - start)
    log("ran: %s -> %d (%.2fs)" % (" ".join(cmd), proc.returncode, res.elapsed))
    if err:
        log("  stderr: %s" % err.decode("utf-8", "replace").rstrip())
    return res


def start(env, args):
    """Starts the vmm in the background (stdin: an open, empty pipe)."""
    rfd, wfd = os.pipe()
    proc = subprocess.Popen([env.vmm] + list(args), stdin=rfd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(rfd)
    proc.stdin_wfd = wfd
    log("started: %s (pid %d)" % (" ".join([env.vmm] + list(args)), proc.pid))
    return proc


def finish(proc, timeout=10.0):
    """Waits for a background vmm; kills it (and fails) if it does not end."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        os.close(proc.stdin_wfd)
        fail("vmm pid %d did not exit within %.0fs; stderr: %r" % (
            proc.pid, timeout, err[-2000:]))
    os.close(proc.stdin_wfd)
    if err:
        log("  stderr: %s" % err.decode("utf-8", "replace").rstrip())
    return proc.returncode, out, err


def stop(proc):
    """Kills a background vmm that is still running (test clean-up)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        try:
            os.close(proc.stdin_wfd)
        except OSError:
            pass


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def wait_for(pred, timeout, interval=0.02):
    """Polls pred() until it returns a true value (returned) or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def tempdir():
    """A fresh directory for serial files and sockets (removed at exit).
    Kept short: unix socket paths are limited to 107 bytes."""
    d = tempfile.TemporaryDirectory(prefix="vmdesk-kvm-")
    return d


class Control:
    """A client of the control socket: line-delimited JSON."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.events = []
        self.buf = b""
        self.next_id = 1
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError as e:
                last = e
                self.sock.close()
            if time.monotonic() >= deadline:
                fail("cannot connect to control socket %s: %s" % (path, last))
            time.sleep(0.05)
        self.greeting = self.read_message(timeout)
        log("greeting: %s" % json.dumps(self.greeting))

    def close(self):
        self.sock.close()

    def read_line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("no message from the control socket within %.1fs "
                     "(partial: %r)" % (timeout, self.buf))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                fail("control socket closed (partial: %r)" % self.buf)
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def read_message(self, timeout):
        line = self.read_line(timeout)
        try:
            msg = json.loads(line.decode("utf-8"))
        except ValueError as e:
            fail("control socket sent invalid JSON %r: %s" % (line, e))
        check(isinstance(msg, dict), "control message is not an object: %r" % line)
        return msg

    def send(self, obj):
        data = json.dumps(obj).encode() + b"\n"
        log("send: %s" % data.decode().rstrip())
        self.sock.sendall(data)

    def execute(self, command, arguments=None, timeout=10.0):
        """Sends a request; returns the reply with the same id. Events read
        meanwhile are kept in self.events."""
        req = {"execute": command, "id": self.next_id}
        if arguments is not None:
            req["arguments"] = arguments
        self.next_id += 1
        self.send(req)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.read_message(max(0.0, deadline - time.monotonic()))
            if "event" in msg:
                log("event: %s" % json.dumps(msg))
                self.events.append(msg)
                continue
            log("reply: %s" % json.dumps(msg))
            check(msg.get("id") == req["id"],
                  "reply %r does not carry the request's id %r" % (msg, req["id"]))
            return msg

    def wait_event(self, name, pred=lambda e: True, timeout=10.0):
        """Returns (and removes) the first event NAME matching pred, reading
        more messages as needed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("event") == name and pred(e):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                fail("no %s event within %.1fs (seen: %r)" % (name, timeout, self.events))
            msg = self.read_message(left)
            if "event" in msg:
                log("event: %s" % json.dumps(msg))
                self.events.append(msg)
            else:
                fail("unexpected message while waiting for %s: %r" % (name, msg))


def main(tests):
    """Runs every test function (each called with an Env) and reports each;
    returns the process exit status: 1 if any failed."""
    try:
        env = Env(sys.argv)
    except TestFailure as e:
        log("FAIL: %s" % e)
        return 1
    failed = []
    for t in tests:
        log("--- %s" % t.__name__)
        try:
            t(env)
        except TestFailure as e:
            log("not ok - %s: %s" % (t.__name__, e))
            failed.append(t.__name__)
            continue
        log("ok - %s" % t.__name__)
    if failed:
        log("FAILED: %s" % ", ".join(failed))
        return 1
    return 0
