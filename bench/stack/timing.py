#!/usr/bin/env python3
"""Timing for bench/stack/run.sh: restart latency and log-follow latency of the Immich server
container, through Keepsake's agent API and through Docker as the anchor. Python 3 stdlib only.

It owns the measuring (clocks, the HTTP over Unix sockets, the SSE and `docker logs -f` readers,
the statistics, the Markdown rows); it knows nothing about starting the agent or the stack, which
run.sh does.

  timing.py restart --agent-socket S --docker-socket D --container C --grace G --port P \
                    --keepsake BIN -n 20
  timing.py overhead --agent-socket S --docker-socket D --container C --port P -n 50
  timing.py follow  --agent-socket S --container C --port P -n 50
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

SERVICE = "server"


def unix_request(path_sock, method, target, body=None, timeout=120.0):
    """One HTTP/1.1 request over a Unix socket, `Connection: close`; returns (status, body bytes).
    Reads to EOF, so the time includes the whole answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path_sock)
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    head += f"Content-Length: {len(data)}\r\n\r\n"
    s.sendall(head.encode() + data)
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    raw = b"".join(chunks)
    status_line = raw.split(b"\r\n", 1)[0].decode(errors="replace")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise RuntimeError(f"no HTTP answer from {path_sock} {target}: {raw[:200]!r}")
    return status, raw.split(b"\r\n\r\n", 1)[-1]


def wait_serving(port, timeout=60.0):
    """Until the stand-in server answers its ping (it waits for the database and redis, then
    migrates, before it listens): each restart is of a container that serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/server/ping")
            if c.getresponse().status == 200:
                c.close()
                return
            c.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server on 127.0.0.1:{port} did not answer its ping within {timeout} s")


def stats(xs):
    xs = sorted(xs)
    n = len(xs)
    # Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
    p90 = xs[max(0, -(-90 * n // 100) - 1)]
    return {"n": n, "median": statistics.median(xs), "p90": p90, "min": xs[0], "max": xs[-1]}


def fmt_ms(s):
    return f"{s * 1000:.1f}"


def load1():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# ---------------------------------------------------------------- restart


def cmd_restart(a):
    path = f"/api/v1/stack/services/{SERVICE}/action"

    def api():
        st, body = unix_request(a.agent_socket, "POST", path, {"action": "restart"})
        if st != 200:
            raise RuntimeError(f"agent restart answered {st}: {body[:300]!r}")

    def cli():
        r = subprocess.run([a.keepsake, "--socket", a.agent_socket, "stack", "restart", SERVICE],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"keepsake stack restart failed: {r.stderr.strip()}")

    def docker_cli():
        r = subprocess.run(["docker", "restart", "-t", str(a.grace), a.container],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"docker restart failed: {r.stderr.strip()}")

    def engine_api():
        st, body = unix_request(a.docker_socket, "POST", f"/containers/{a.container}/restart?t={a.grace}")
        if st != 204:
            raise RuntimeError(f"engine restart answered {st}: {body[:300]!r}")

    methods = [
        ("keepsake API: POST .../services/server/action (Unix socket)", api),
        ("anchor: Docker Engine API POST /containers/NAME/restart (Unix socket)", engine_api),
        ("keepsake CLI: `keepsake stack restart server`", cli),
        (f"anchor: `docker restart -t {a.grace} NAME`", docker_cli),
    ]
    times = {name: [] for name, _ in methods}
    loads = []
    for i in range(a.n):
        # Alternate, and rotate which goes first, so a slow spell of the machine is shared.
        order = methods[i % len(methods):] + methods[:i % len(methods)]
        for name, fn in order:
            wait_serving(a.port)
            time.sleep(a.settle)
            t0 = time.monotonic()
            fn()
            times[name].append(time.monotonic() - t0)
        loads.append(float(load1()))
        print(f"restart round {i + 1}/{a.n} done", file=sys.stderr)
    wait_serving(a.port)
    print("| restart of the server container | n | median ms | p90 ms | min ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, _ in methods:
        s = stats(times[name])
        print(f"| {name} | {s['n']} | "
              f"{fmt_ms(s['median'])} | {fmt_ms(s['p90'])} | {fmt_ms(s['min'])} | {fmt_ms(s['max'])} |")
    med = {name: stats(times[name])["median"] for name, _ in methods}
    p90 = {name: stats(times[name])["p90"] for name, _ in methods}
    n_api, n_eng, n_cli, n_dcli = (m[0] for m in methods)
    print()
    print(f"Ratios: API/engine API median {med[n_api] / med[n_eng]:.2f}x, p90 {p90[n_api] / p90[n_eng]:.2f}x; "
          f"keepsake CLI/docker CLI median {med[n_cli] / med[n_dcli]:.2f}x, p90 {p90[n_cli] / p90[n_dcli]:.2f}x; "
          f"API/docker CLI median {med[n_api] / med[n_dcli]:.2f}x, p90 {p90[n_api] / p90[n_dcli]:.2f}x. "
          f"1-min load average during the rounds: {min(loads):.2f} to {max(loads):.2f}.")
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(times, f, indent=1)


# ---------------------------------------------------------------- overhead


def cmd_overhead(a):
    """The fixed cost of a service action through the agent, without the engine's work: `start`
    of the running server, which the engine answers at once (304, already running) and the agent
    takes as done. Against the same call straight to the engine, and the engine call preceded by
    a `GET /version` (the agent connects and negotiates the API version for each action)."""
    path = f"/api/v1/stack/services/{SERVICE}/action"

    def api():
        st, body = unix_request(a.agent_socket, "POST", path, {"action": "start"})
        if st != 200:
            raise RuntimeError(f"agent start answered {st}: {body[:300]!r}")

    def engine():
        st, body = unix_request(a.docker_socket, "POST", f"/containers/{a.container}/start")
        if st != 304:
            raise RuntimeError(f"engine start answered {st}: {body[:300]!r}")

    def engine_version():
        st, _ = unix_request(a.docker_socket, "GET", "/version")
        if st != 200:
            raise RuntimeError(f"engine version answered {st}")
        engine()

    methods = [
        ("keepsake API: `start` of the running server", api),
        ("Docker Engine API: POST /containers/NAME/start (304)", engine),
        ("Docker Engine API: GET /version, then the start (304)", engine_version),
    ]
    times = {name: [] for name, _ in methods}
    wait_serving(a.port)
    for i in range(a.n):
        order = methods[i % len(methods):] + methods[:i % len(methods)]
        for name, fn in order:
            t0 = time.monotonic()
            fn()
            times[name].append(time.monotonic() - t0)
            time.sleep(0.05)
    print("| a no-op action: fixed cost | n | median ms | p90 ms | min ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, _ in methods:
        s = stats(times[name])
        print(f"| {name} | {s['n']} | {fmt_ms(s['median'])} | {fmt_ms(s['p90'])} | {fmt_ms(s['min'])} | {fmt_ms(s['max'])} |")
    print()
    print(f"1-min load average at the end: {load1()}.")


# ---------------------------------------------------------------- follow


class Follower(threading.Thread):
    """Reads a byte stream and stamps (monotonic) the first arrival of each awaited marker.
    Raw bytes are scanned, so chunked framing and SSE's `data:` JSON need no parsing; a marker is
    a path unique to one sample, which only the line of that request contains."""

    def __init__(self, name, read):
        super().__init__(daemon=True)
        self.name_ = name
        self.read = read
        self.buf = b""
        self.seen = {}
        self.cv = threading.Condition()
        self.error = None

    def run(self):
        try:
            while True:
                b = self.read()
                if not b:
                    raise RuntimeError(f"{self.name_}: the stream ended")
                now = time.monotonic()
                with self.cv:
                    self.buf = (self.buf + b)[-65536:]
                    for m in self.expected:
                        if m not in self.seen and m.encode() in self.buf:
                            self.seen[m] = now
                    self.cv.notify_all()
        except Exception as e:  # reported by wait()
            with self.cv:
                self.error = e
                self.cv.notify_all()

    expected = []

    def wait(self, marker, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while marker not in self.seen:
                if self.error:
                    raise self.error
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return self.seen[marker]


def sse_stream(agent_socket, target):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(agent_socket)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            raise RuntimeError(f"the agent closed {target}: {head[:300]!r}")
        head += b
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        raise RuntimeError(f"GET {target}: {head[:400]!r}")
    rest = head.split(b"\r\n\r\n", 1)[1]
    pending = [rest]

    def read():
        if pending and pending[0]:
            return pending.pop()
        pending.clear()
        return s.recv(65536)

    return s, read


def cmd_follow(a):
    run_id = f"{os.getpid()}-{int(time.time())}"
    markers = [f"/bench-follow/{run_id}/{i}" for i in range(a.n)]
    Follower.expected = markers

    sock, read = sse_stream(a.agent_socket, f"/api/v1/stack/services/{SERVICE}/logs/follow")
    sse = Follower("keepsake SSE", read)
    proc = subprocess.Popen(["docker", "logs", "-f", "--tail", "0", a.container],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
    dl = Follower("docker logs -f", lambda: os.read(proc.stdout.fileno(), 65536))
    sse.start()
    dl.start()
    try:
        wait_serving(a.port)
        # `--tail 0` and the SSE route show only lines written after they attached, and the
        # docker client takes a moment to start: warm-up lines until both have seen one.
        warm = [f"/bench-follow/{run_id}/warm{k}" for k in range(60)]
        Follower.expected = markers + warm
        for m in warm:
            _get(a.port, m)
            if all(f.wait(m, 0.5) is not None for f in (sse, dl)):
                break
        else:
            raise RuntimeError(f"the followers saw no warm-up line within 30 s; docker logs read "
                               f"{dl.buf[-300:]!r}, the SSE stream {sse.buf[-300:]!r}")
        lat = {"sse": [], "docker": []}
        lost = {"sse": 0, "docker": 0}
        loads = []
        for i, m in enumerate(markers):
            time.sleep(a.gap)
            t0 = time.monotonic()
            _get(a.port, m)
            for key, f in (("sse", sse), ("docker", dl)):
                t = f.wait(m, 10)
                if t is None:
                    lost[key] += 1
                else:
                    lat[key].append(t - t0)
            loads.append(float(load1()))
    finally:
        sock.close()
        proc.kill()
        proc.wait()
    print("| from a request to its log line | n | median ms | p90 ms | max ms | lost |")
    print("|---|---|---|---|---|---|")
    for key, name in (("sse", "keepsake: SSE GET .../services/server/logs/follow"),
                      ("docker", "anchor: `docker logs -f --tail 0 NAME`")):
        s = stats(lat[key])
        print(f"| {name} | {s['n']} | {fmt_ms(s['median'])} | {fmt_ms(s['p90'])} | {fmt_ms(s['max'])} | {lost[key]} |")
    print()
    print(f"1-min load average during the samples: {min(loads):.2f} to {max(loads):.2f}.")
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(lat, f, indent=1)


def _get(port, path):
    """The request whose log line is awaited; the server writes the line after it has answered."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    c.getresponse().read()
    c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("restart")
    r.add_argument("--agent-socket", required=True)
    r.add_argument("--docker-socket", default="/var/run/docker.sock")
    r.add_argument("--container", required=True)
    r.add_argument("--grace", type=int, required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--keepsake", required=True)
    r.add_argument("-n", type=int, default=20)
    r.add_argument("--settle", type=float, default=0.5, help="seconds after the ping answers")
    r.add_argument("--raw", help="write the samples here as JSON")
    o = sub.add_parser("overhead")
    o.add_argument("--agent-socket", required=True)
    o.add_argument("--docker-socket", default="/var/run/docker.sock")
    o.add_argument("--container", required=True)
    o.add_argument("--port", type=int, required=True)
    o.add_argument("-n", type=int, default=50)
    f = sub.add_parser("follow")
    f.add_argument("--agent-socket", required=True)
    f.add_argument("--container", required=True)
    f.add_argument("--port", type=int, required=True)
    f.add_argument("-n", type=int, default=50)
    f.add_argument("--gap", type=float, default=0.2, help="seconds between samples")
    f.add_argument("--raw", help="write the samples here as JSON")
    a = p.parse_args()
    {"restart": cmd_restart, "overhead": cmd_overhead, "follow": cmd_follow}[a.cmd](a)


if __name__ == "__main__":
    main()
