# SPDX-License-Identifier: GPL-3.0-or-later
"""The control socket while loop.bin runs: greeting, query-status, pause
(the guest's output stops), resume (it grows again), quit (status 0, the
socket file is removed). Also the other ways out and in of a running VM:
Ctrl-A X on a stdio console, a unix-socket console, a control socket path
that is in use or stale."""

import os
import pty
import socket
import stat
import subprocess
import sys
import time

import vmmtest as t


def size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def grows(path, within):
    before = size(path)
    return t.wait_for(lambda: size(path) > before, within)


def state_is(state):
    return lambda e: isinstance(e.get("data"), dict) and e["data"].get("state") == state


def pause_resume_quit(env):
    with t.tempdir() as d:
        out = os.path.join(d, "serial.out")
        sock = os.path.join(d, "control.sock")
        proc = t.start(env, ["--firmware", env.image("loop"), "--serial", "file:" + out,
                             "--control", sock])
        try:
            run_session(proc, out, sock)
        finally:
            t.stop(proc)


def run_session(proc, out, sock):
    t.check(t.wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10),
            "the control socket %s did not appear" % sock)
    t.check(proc.poll() is None, "the vmm exited early with status %s" % proc.poll())
    st = os.stat(sock)
    t.check(stat.S_ISSOCK(st.st_mode), "%s is not a socket" % sock)
    t.check(stat.S_IMODE(st.st_mode) == 0o600,
            "control socket mode %o, expected 600" % stat.S_IMODE(st.st_mode))

    c = t.Control(sock)
    g = c.greeting.get("vmdesk")
    t.check(isinstance(g, dict), "greeting lacks the vmdesk object: %r" % c.greeting)
    t.check(g.get("protocol") == 1, "greeting protocol %r, expected 1" % g.get("protocol"))
    t.check("version" in g, "greeting lacks a version: %r" % g)

    t.check(t.wait_for(lambda: b"loop start" in t.read_file(out), 10),
            "the guest did not start: %r" % t.read_file(out))

    r = c.execute("query-status")
    t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)
    t.check(r["return"].get("vcpus") == 1, "query-status vcpus: %r" % r)
    t.check(grows(out, 5), "the guest's output does not grow while running")

    # pause: a reply, a STATE_CHANGED event, and a guest that stands still.
    r = c.execute("pause")
    t.check(r.get("return") == {}, "pause: %r" % r)
    c.wait_event("STATE_CHANGED", state_is("paused"), timeout=5)
    r = c.execute("query-status")
    t.check(r.get("return", {}).get("state") == "paused", "query-status: %r" % r)
    time.sleep(0.2)                 # let output already in flight land
    before = t.read_file(out)
    time.sleep(1.0)
    after = t.read_file(out)
    t.check(after == before, "the guest kept printing while paused: %r" % after[len(before):])
    t.check(proc.poll() is None, "the vmm exited while paused")

    # resume: output grows again.
    r = c.execute("resume")
    t.check(r.get("return") == {}, "resume: %r" % r)
    c.wait_event("STATE_CHANGED", state_is("running"), timeout=5)
    r = c.execute("query-status")
    t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)
    t.check(grows(out, 5), "the guest's output does not grow after resume")

    # An unknown command is an error, and the session stays usable.
    r = c.execute("no-such-command")
    t.check("error" in r and "return" not in r, "unknown command: %r" % r)
    r = c.execute("query-status")
    t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)

    # quit: a reply, status 0, and the socket file is gone.
    r = c.execute("quit")
    t.check(r.get("return") == {}, "quit: %r" % r)
    status, _, err = t.finish(proc, timeout=10)
    c.close()
    t.check(status == 0, "after quit: status %s, stderr %r" % (status, err))
    t.check(not os.path.exists(sock), "the control socket %s is still there" % sock)


def second_client(env):
    # Two clients at once both get a greeting and replies; quitting from one
    # (while paused) ends the VMM.
    with t.tempdir() as d:
        sock = os.path.join(d, "control.sock")
        proc = t.start(env, ["--firmware", env.image("loop"), "--serial", "none",
                             "--cpus", "2", "--control", sock])
        try:
            a = t.Control(sock)
            b = t.Control(sock)
            for c in (a, b):
                r = c.execute("query-status")
                t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)
                t.check(r["return"].get("vcpus") == 2, "query-status vcpus with --cpus 2: %r" % r)
            r = b.execute("pause")
            t.check(r.get("return") == {}, "pause: %r" % r)
            # Events go to every client.
            a.wait_event("STATE_CHANGED", state_is("paused"), timeout=5)
            b.wait_event("STATE_CHANGED", state_is("paused"), timeout=5)
            r = a.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            status, _, err = t.finish(proc, timeout=10)
            t.check(status == 0, "after quit: status %s, stderr %r" % (status, err))
            t.check(not os.path.exists(sock), "the control socket %s is still there" % sock)
            a.close()
            b.close()
        finally:
            t.stop(proc)


def stdio_ctrl_a_x(env):
    # --serial stdio on a terminal (a pty here): the guest's output goes to
    # stdout; Ctrl-A X quits with status 0. (Escapes are a terminal feature:
    # with a pipe on stdin the bytes all go to the guest.)
    master, slave = pty.openpty()
    with t.tempdir() as d:
        outpath = os.path.join(d, "stdout")
        with open(outpath, "wb") as outf:
            proc = subprocess.Popen([env.vmm, "--firmware", env.image("loop"),
                                     "--serial", "stdio"],
                                    stdin=slave, stdout=outf, stderr=subprocess.PIPE)
        os.close(slave)
        try:
            t.check(t.wait_for(lambda: b"loop 1\r\n" in t.read_file(outpath), 10),
                    "no guest output on stdout: %r" % t.read_file(outpath))
            os.write(master, b"\x01x")
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                t.fail("Ctrl-A X did not end the vmm")
            err = proc.stderr.read()
            t.check(proc.returncode == 0, "Ctrl-A X: status %s, stderr %r" % (
                proc.returncode, err))
        finally:
            os.close(master)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()


def read_console(sock, want, timeout):
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while want not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def serial_unix(env):
    # --serial unix:PATH: a console client attaches, sees the guest's output,
    # detaches, and a later client attaches again.
    with t.tempdir() as d:
        console = os.path.join(d, "console.sock")
        ctl = os.path.join(d, "control.sock")
        proc = t.start(env, ["--firmware", env.image("loop"), "--serial", "unix:" + console,
                             "--control", ctl])
        try:
            c = t.Control(ctl)
            for attempt in (1, 2):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(console)
                data = read_console(s, b"\r\nloop ", 10)
                s.close()
                t.check(b"\r\nloop " in data,
                        "console client %d saw no guest output: %r" % (attempt, data))
            r = c.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            status, _, err = t.finish(proc, timeout=10)
            t.check(status == 0, "after quit: status %s, stderr %r" % (status, err))
            c.close()
        finally:
            t.stop(proc)


def control_socket_in_use(env):
    # A second VMM must not take over (or remove) a live control socket: it
    # exits with status 2, and the first VMM still answers there.
    with t.tempdir() as d:
        sock = os.path.join(d, "control.sock")
        first = t.start(env, ["--firmware", env.image("loop"), "--serial", "none",
                              "--control", sock])
        try:
            a = t.Control(sock)
            r = t.run(env, ["--firmware", env.image("hello"), "--serial", "none",
                            "--control", sock], timeout=20)
            t.check(r.returncode == 2, "a second vmm on a live control socket\n" + r.describe())
            t.check(os.path.exists(sock), "the second vmm removed the first one's socket")
            b = t.Control(sock)
            r = b.execute("query-status")
            t.check(r.get("return", {}).get("state") == "running", "query-status: %r" % r)
            r = a.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            status, _, err = t.finish(first, timeout=10)
            t.check(status == 0, "after quit: status %s, stderr %r" % (status, err))
            a.close()
            b.close()
        finally:
            t.stop(first)


def stale_control_socket(env):
    # A socket file nobody listens on (left by a killed VMM) is replaced.
    with t.tempdir() as d:
        sock = os.path.join(d, "control.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(sock)
        s.close()
        proc = t.start(env, ["--firmware", env.image("loop"), "--serial", "none",
                             "--control", sock])
        try:
            c = t.Control(sock)
            r = c.execute("quit")
            t.check(r.get("return") == {}, "quit: %r" % r)
            status, _, err = t.finish(proc, timeout=10)
            t.check(status == 0, "after quit: status %s, stderr %r" % (status, err))
            c.close()
        finally:
            t.stop(proc)


if __name__ == "__main__":
    t.require_kvm()
    sys.exit(t.main([pause_resume_quit, second_client, stdio_ctrl_a_x, serial_unix,
                     control_socket_in_use, stale_control_socket]))
