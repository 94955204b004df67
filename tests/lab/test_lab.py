"""Proof that every lab component does real work.

Each test reads the lab's exports from the environment or, failing that, from
tests/.lab/env (written by `tests/lab/lab.sh start ...`). A component that is not
started makes its test FAIL (never skip) with the command that starts it.

Run:  tests/lab/lab.sh start docker registry systemd pgcontainer immich udev zfs exfat postgres caddy smtp
      python3 -m pytest -q tests/lab
"""

import json
import os
import queue
import re
import shlex
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

LAB_SRC = Path(__file__).resolve().parent
REPO = LAB_SRC.parent.parent
LAB_DIR = REPO / "tests" / ".lab"
ENV_FILE = LAB_DIR / "env"
LAB_SH = LAB_SRC / "lab.sh"
PG_CONTAINER_SH = LAB_SRC / "pg_container.sh"
BUSYBOX_IMAGE = "keepsake-lab/busybox:1"


def _load_env():
    env = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            line = line.strip()
            if not line.startswith("export "):
                continue
            key, _, value = line[len("export "):].partition("=")
            words = shlex.split(value) if value else [""]
            env[key] = words[0] if words else ""
    for key, value in os.environ.items():
        if key.startswith("KEEPSAKE_LAB_"):
            env[key] = value
    return env


LAB_ENV = _load_env()


def need(component, var):
    """The value of VAR, or fail naming the component and how to start it."""
    value = LAB_ENV.get(var)
    if not value:
        pytest.fail(
            "lab component '%s' is not started (%s unset; no entry in %s): "
            "run `tests/lab/lab.sh start %s`" % (component, var, ENV_FILE, component),
            pytrace=False,
        )
    return value


def run(cmd, timeout=60, check=True, env=None, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check and p.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\nstdout: %s\nstderr: %s"
            % (p.returncode, " ".join(map(str, cmd)), p.stdout[-2000:], p.stderr[-2000:])
        )
    return p


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def docker_cmd():
    return ["docker", "-H", need("docker", "KEEPSAKE_LAB_DOCKER_HOST")]


def no_proxy_opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ------------------------------------------------------------------ docker


def test_docker_runs_busybox_without_network():
    d = docker_cmd()
    name = uniq("keepsake-lab-test")
    try:
        p = run(d + ["run", "--name", name, "--network", "none", BUSYBOX_IMAGE,
                     "sh", "-c", "echo keepsake-$((6*7)); ls /sys/class/net"])
        lines = p.stdout.split()
        assert lines[0] == "keepsake-42", p.stdout
        assert "lo" in lines[1:] and not any(i.startswith("eth") for i in lines[1:]), p.stdout
        state = json.loads(run(d + ["inspect", name]).stdout)[0]["State"]
        assert state["ExitCode"] == 0
    finally:
        run(d + ["rm", "-f", name], check=False)


# ------------------------------------------------------------------ registry


def _manifest_digest(registry, repo, tag):
    req = urllib.request.Request(
        "http://%s/v2/%s/manifests/%s" % (registry, repo, tag),
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with no_proxy_opener().open(req, timeout=10) as r:
        return r.headers["Docker-Content-Digest"]


def test_registry_push_and_pull_by_tag_and_digest():
    d = docker_cmd()
    registry = need("registry", "KEEPSAKE_LAB_REGISTRY")
    repo = "keepsake-lab/busybox"
    tag = uniq("t")
    ref = "%s/%s:%s" % (registry, repo, tag)
    digest_ref = None
    try:
        run(d + ["tag", BUSYBOX_IMAGE, ref])
        run(d + ["push", ref], timeout=120)
        digest = _manifest_digest(registry, repo, tag)
        assert digest.startswith("sha256:")
        # drop the local copy so the pull really comes from the registry
        run(d + ["rmi", ref])
        assert run(d + ["image", "inspect", ref], check=False).returncode != 0
        run(d + ["pull", ref], timeout=120)
        p = run(d + ["run", "--rm", "--network", "none", ref, "echo", "pulled-by-tag"])
        assert p.stdout.strip() == "pulled-by-tag"
        digest_ref = "%s/%s@%s" % (registry, repo, digest)
        run(d + ["pull", digest_ref], timeout=120)
        repo_digests = json.loads(run(d + ["image", "inspect", ref]).stdout)[0]["RepoDigests"]
        assert digest_ref in repo_digests, repo_digests
    finally:
        run(d + ["rmi", ref], check=False)
        if digest_ref:
            run(d + ["rmi", digest_ref], check=False)
            req = urllib.request.Request(
                "http://%s/v2/%s/manifests/%s" % (registry, repo, digest_ref.split("@")[1]),
                method="DELETE",
            )
            try:
                no_proxy_opener().open(req, timeout=10).close()
            except urllib.error.HTTPError:
                pass


# ------------------------------------------------------------------ systemd


def _bus_prop(bus, path, iface, prop):
    p = run(["busctl", "--address=" + bus, "--timeout=10", "get-property",
             "org.freedesktop.systemd1", path, iface, prop])
    return p.stdout.strip()


def _unit_path(bus, unit):
    p = run(["busctl", "--address=" + bus, "--timeout=10", "call", "org.freedesktop.systemd1",
             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit])
    m = re.match(r'o "(.+)"', p.stdout.strip())
    assert m, p.stdout
    return m.group(1)


def test_systemd_transient_oneshot_result_over_bus():
    bus = need("systemd", "KEEPSAKE_LAB_SYSTEMD_BUS")
    ctr = LAB_ENV.get("KEEPSAKE_LAB_SYSTEMD_CONTAINER", "keepsake-lab-systemd")
    d = docker_cmd()
    ok_unit = uniq("keepsake-lab-ok") + ".service"
    bad_unit = uniq("keepsake-lab-bad") + ".service"
    try:
        # oneshot: systemd-run returns when the process has exited
        run(d + ["exec", ctr, "systemd-run", "--unit", ok_unit, "-p", "Type=oneshot",
                 "-p", "RemainAfterExit=yes", "/bin/sh", "-c", "echo hello-from-unit"])
        p = run(d + ["exec", ctr, "systemd-run", "--unit", bad_unit, "-p", "Type=oneshot",
                     "/bin/sh", "-c", "exit 3"], check=False)
        assert p.returncode != 0, "a failing oneshot unit must make systemd-run fail"

        ok_path = _unit_path(bus, ok_unit)
        assert _bus_prop(bus, ok_path, "org.freedesktop.systemd1.Unit", "ActiveState") == 's "active"'
        assert _bus_prop(bus, ok_path, "org.freedesktop.systemd1.Service", "Result") == 's "success"'
        assert _bus_prop(bus, ok_path, "org.freedesktop.systemd1.Service", "ExecMainStatus") == "i 0"

        bad_path = _unit_path(bus, bad_unit)
        assert _bus_prop(bus, bad_path, "org.freedesktop.systemd1.Unit", "ActiveState") == 's "failed"'
        assert _bus_prop(bus, bad_path, "org.freedesktop.systemd1.Service", "Result") == 's "exit-code"'
        assert _bus_prop(bus, bad_path, "org.freedesktop.systemd1.Service", "ExecMainStatus") == "i 3"

        # the unit's output is in the journal inside the container
        deadline = time.time() + 10
        while True:
            j = run(d + ["exec", ctr, "journalctl", "--no-pager", "-o", "cat", "-u", ok_unit], check=False)
            if "hello-from-unit" in j.stdout or time.time() > deadline:
                break
            time.sleep(0.5)
        assert "hello-from-unit" in j.stdout, j.stdout + j.stderr
    finally:
        run(d + ["exec", ctr, "systemctl", "stop", ok_unit], check=False)
        run(d + ["exec", ctr, "systemctl", "reset-failed", bad_unit], check=False)


# ------------------------------------------------------------------ pgcontainer


def pgc(*args, timeout=120, check=True):
    """tests/lab/pg_container.sh ARGS..., on the lab's image and engine."""
    env = dict(os.environ,
               KEEPSAKE_LAB_PG_IMAGE=need("pgcontainer", "KEEPSAKE_LAB_PG_IMAGE"),
               KEEPSAKE_LAB_DOCKER_HOST=need("docker", "KEEPSAKE_LAB_DOCKER_HOST"))
    return run(["bash", str(PG_CONTAINER_SH)] + list(args), timeout=timeout, check=check, env=env)


def _cluster_state(datadir):
    """pg_controldata's "Database cluster state" of DATADIR, read with the lab image."""
    p = run(docker_cmd() + ["run", "--rm", "--network", "none", "-u", "postgres",
                            "-v", "%s:/d" % datadir, need("pgcontainer", "KEEPSAKE_LAB_PG_IMAGE"),
                            "pg_controldata", "/d"])
    m = re.search(r"^Database cluster state:\s*(.+)$", p.stdout, re.M)
    assert m, p.stdout
    return m.group(1).strip()


def _pg_container_round_trip(datadir):
    """Start a container on DATADIR, write rows, dump them over `docker exec` (no TTY), stop,
    start again on the same DATADIR and find the rows. Leaves the container stopped and removed."""
    d = docker_cmd()
    name = uniq("keepsake-lab-pg")
    try:
        pgc("start", name, str(datadir))
        info = json.loads(run(d + ["inspect", name]).stdout)[0]
        assert info["HostConfig"]["NetworkMode"] == "none", info["HostConfig"]["NetworkMode"]
        assert (datadir / "PG_VERSION").read_text().strip() == "15"
        assert pgc("psql", name, "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate "
                   "FROM pg_database WHERE datname = 'immich'").stdout.strip() == "UTF8 C.UTF-8"
        assert pgc("psql", name, "SHOW listen_addresses").stdout.strip() == ""
        pgc("psql", name, "CREATE TABLE assets (id int PRIMARY KEY, name text NOT NULL); "
            "INSERT INTO assets VALUES (1, 'beach.jpg'), (2, 'dog.heic')")
        pgc("start", name, str(datadir))  # a second start on a running container is a no-op

        # what the agent's restore points run: no -t, stdin not a terminal
        p = run(d + ["exec", name, "pg_dump", "--clean", "--if-exists", "-U", "postgres", "immich"],
                stdin=subprocess.DEVNULL)
        lines = p.stdout.splitlines()
        assert "DROP TABLE IF EXISTS public.assets;" in lines, p.stdout[:2000]
        assert "CREATE TABLE public.assets (" in lines, p.stdout[:2000]
        assert "1\tbeach.jpg" in lines and "2\tdog.heic" in lines, p.stdout[-2000:]
        assert "\r" not in p.stdout, "a TTY crept in"

        pgc("stop", name)
        assert run(d + ["inspect", name], check=False).returncode != 0, "stop must remove the container"
        assert _cluster_state(datadir) == "shut down", "stop must be a clean (fast) shutdown"
        pgc("stop", name)  # stopping a stopped container is a no-op

        pgc("start", name, str(datadir))
        got = pgc("psql", name, "SELECT string_agg(name, ',' ORDER BY id) FROM assets").stdout.strip()
        assert got == "beach.jpg,dog.heic"
        log = run(d + ["logs", name]).stdout + run(d + ["logs", name]).stderr
        assert "reusing the cluster" in log and "initdb" not in log, log[-2000:]
    finally:
        pgc("stop", name, check=False)
        run(d + ["rm", "-f", name], check=False)
    assert run(d + ["inspect", name], check=False).returncode != 0


def test_pg_container_dump_and_restart_on_a_directory(tmp_path):
    need("pgcontainer", "KEEPSAKE_LAB_PG_IMAGE")
    datadir = tmp_path / "pgdata"
    datadir.mkdir()
    _pg_container_round_trip(datadir)


def test_pg_container_on_a_zfs_dataset_with_snapshot_rollback():
    need("pgcontainer", "KEEPSAKE_LAB_PG_IMAGE")
    pool = need("zfs", "KEEPSAKE_LAB_ZPOOL")
    ds = "%s/%s" % (pool, uniq("pgtest"))
    name = uniq("keepsake-lab-pg")
    try:
        run(["zfs", "create", ds])
        mountpoint = Path(run(["zfs", "get", "-H", "-o", "value", "mountpoint", ds]).stdout.strip())
        _pg_container_round_trip(mountpoint)
        # a restore point of the stopped cluster: snapshot, change, roll back, start again
        run(["zfs", "snapshot", ds + "@clean"])
        pgc("start", name, str(mountpoint))
        pgc("psql", name, "DELETE FROM assets WHERE id = 1; INSERT INTO assets VALUES (3, 'late.png')")
        pgc("stop", name)
        run(["zfs", "rollback", ds + "@clean"])
        pgc("start", name, str(mountpoint))
        got = pgc("psql", name, "SELECT string_agg(name, ',' ORDER BY id) FROM assets").stdout.strip()
        assert got == "beach.jpg,dog.heic"
    finally:
        pgc("stop", name, check=False)
        run(docker_cmd() + ["rm", "-f", name], check=False)
        # zfs-fuse may report "dataset is busy" for a moment after an unmount or a rollback
        deadline = time.time() + 20
        while True:
            p = run(["zfs", "destroy", "-r", ds], check=False)
            if p.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.5)
    assert p.returncode == 0, p.stderr
    assert ds not in run(["zfs", "list", "-H", "-o", "name"]).stdout.split()


# ------------------------------------------------------------------ exfat / udev


class Loop:
    """exFAT image attached to a loop device via `lab.sh exfat-attach`."""

    def __init__(self):
        self.devs = []

    def attach(self, name, size_mb, label):
        p = run(["bash", str(LAB_SH), "exfat-attach", name, str(size_mb), label])
        dev, fs_uuid = p.stdout.split()
        assert dev.startswith("/dev/loop"), p.stdout
        self.devs.append(dev)
        return dev, fs_uuid

    def detach_all(self):
        for dev in self.devs:
            run(["bash", str(LAB_SH), "exfat-detach", dev], check=False)
        self.devs.clear()


@pytest.fixture
def loops():
    lp = Loop()
    yield lp
    lp.detach_all()


def _udev_monitor():
    proc = subprocess.Popen(
        ["udevadm", "monitor", "--udev", "--property", "--subsystem-match=block"],
        # stderr apart: only stdout is parsed into events, and a warning must not become one.
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
    )
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _events(lines, deadline):
    """Yield udev events (dicts of properties) until the deadline."""
    cur = {}
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.time()))
        except queue.Empty:
            return
        if line is None:
            return
        if not line.strip():
            if cur:
                yield cur
            cur = {}
        elif line.startswith("UDEV ") and "(" in line:
            cur = {"_header": line}
        elif "=" in line:
            k, _, v = line.partition("=")
            cur[k] = v


def test_udev_event_for_exfat_loop_device(loops):
    need("udev", "KEEPSAKE_LAB_UDEV")
    need("exfat", "KEEPSAKE_LAB_EXFAT")
    proc, lines = _udev_monitor()
    try:
        # wait for the monitor's banner so that no event is missed
        deadline = time.time() + 10
        while time.time() < deadline:
            line = lines.get(timeout=10)
            if line is None or line.startswith("UDEV - the event"):
                break
        time.sleep(0.3)
        label = "KSLAB%04d" % (uuid.uuid4().int % 10000)
        dev, fs_uuid = loops.attach(uniq("udev"), 16, label)
        found = None
        for ev in _events(lines, time.time() + 20):
            if ev.get("DEVNAME") == dev and ev.get("ID_FS_TYPE") == "exfat":
                found = ev
                break
        assert found, "no udev event with ID_FS_TYPE=exfat for %s within 20s" % dev
        assert found["ID_FS_UUID"] == fs_uuid, found
        assert found.get("ID_FS_LABEL") == label, found
        assert found.get("SUBSYSTEM") == "block", found
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_exfat_mount_write_read_unmount(loops):
    need("exfat", "KEEPSAKE_LAB_EXFAT")
    dev, _fs_uuid = loops.attach(uniq("rw"), 32, "KSLABRW")
    mnt = LAB_DIR / "exfat" / uniq("mnt")
    mnt.mkdir(parents=True)
    payload = "keepsake exfat %s\n" % uuid.uuid4()
    try:
        for round_ in range(2):
            run(["mount.exfat-fuse", dev, str(mnt)], timeout=30)
            try:
                fstype = run(["findmnt", "-n", "-o", "FSTYPE", str(mnt)]).stdout.strip()
                assert fstype in ("fuseblk", "fuse.exfat", "exfat"), fstype
                f = mnt / "DCIM" / "photo.txt"
                if round_ == 0:
                    f.parent.mkdir()
                    f.write_text(payload)
                # second round: the data survived unmount + remount; names are case-insensitive
                assert f.read_text() == payload
                assert (mnt / "dcim" / "PHOTO.TXT").read_text() == payload
            finally:
                run(["umount", str(mnt)], timeout=30)
        assert run(["findmnt", str(mnt)], check=False).returncode != 0
    finally:
        run(["umount", "-l", str(mnt)], check=False)
        try:
            mnt.rmdir()
        except OSError:
            pass


# ------------------------------------------------------------------ zfs


def test_zfs_dataset_snapshot_rollback():
    pool = need("zfs", "KEEPSAKE_LAB_ZPOOL")
    ds = "%s/%s" % (pool, uniq("test"))
    snap = ds + "@before"
    try:
        run(["zfs", "create", ds])
        mountpoint = run(["zfs", "get", "-H", "-o", "value", "mountpoint", ds]).stdout.strip()
        f = Path(mountpoint) / "photo.txt"
        f.write_text("original\n")
        run(["sync"])
        run(["zfs", "snapshot", snap])
        snaps = run(["zfs", "list", "-H", "-t", "snapshot", "-o", "name"]).stdout.split()
        assert snap in snaps, snaps
        f.write_text("changed\n")
        (Path(mountpoint) / "new.txt").write_text("x")
        run(["zfs", "rollback", snap])
        assert f.read_text() == "original\n"
        assert not (Path(mountpoint) / "new.txt").exists()
        used = run(["zfs", "get", "-H", "-p", "-o", "value", "used", ds]).stdout.strip()
        assert used.isdigit(), used
    finally:
        # zfs-fuse may report "dataset is busy" for a moment after a rollback
        deadline = time.time() + 20
        while True:
            p = run(["zfs", "destroy", "-r", ds], check=False)
            if p.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.5)
    assert p.returncode == 0, p.stderr
    assert ds not in run(["zfs", "list", "-H", "-o", "name"]).stdout.split()


# ------------------------------------------------------------------ postgres


def test_postgres_select_1():
    url = need("postgres", "KEEPSAKE_LAB_PG_URL")
    assert re.match(r"postgres(ql)?://[^/]*@?(127\.0\.0\.1|\[::1\]|localhost)[:/]", url), url
    p = run(["psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1"], timeout=30)
    assert p.stdout.strip() == "1"
    p = run(["psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c",
             "CREATE TEMP TABLE t(x int); INSERT INTO t VALUES (20),(22); SELECT sum(x) FROM t"],
            timeout=30)
    assert p.stdout.strip().splitlines()[-1] == "42"


# ------------------------------------------------------------------ caddy


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_caddy_validate_and_serve(tmp_path):
    caddy = need("caddy", "KEEPSAKE_LAB_CADDY")
    port = _free_port()
    body = "keepsake-lab-%s" % uuid.uuid4().hex[:8]
    cfg = tmp_path / "Caddyfile"
    cfg.write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n\n"
        "http://127.0.0.1:%d {\n\tbind 127.0.0.1\n\trespond \"%s\" 200\n}\n" % (port, body)
    )
    env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    run([caddy, "validate", "--adapter", "caddyfile", "--config", str(cfg)], env=env)
    bad = tmp_path / "Bad"
    bad.write_text("http://127.0.0.1:%d {\n\tno_such_directive\n}\n" % port)
    assert run([caddy, "validate", "--adapter", "caddyfile", "--config", str(bad)],
               env=env, check=False).returncode != 0
    log = open(tmp_path / "caddy.log", "w")
    proc = subprocess.Popen([caddy, "run", "--adapter", "caddyfile", "--config", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 20
        got = None
        while time.time() < deadline and proc.poll() is None:
            try:
                with no_proxy_opener().open("http://127.0.0.1:%d/" % port, timeout=2) as r:
                    got = (r.status, r.read().decode())
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        assert got == (200, body), (got, (tmp_path / "caddy.log").read_text()[-2000:])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# ------------------------------------------------------------------ smtp


def test_smtp_sink_stores_eml():
    addr = need("smtp", "KEEPSAKE_LAB_SMTP")
    outdir = Path(need("smtp", "KEEPSAKE_LAB_SMTP_DIR"))
    host, port = addr.rsplit(":", 1)
    subject = uniq("keepsake-lab-mail")
    msg = ("From: keepsake@example.test\r\nTo: owner@example.test\r\nSubject: %s\r\n\r\n"
           "Backup finished.\r\n" % subject)
    with smtplib.SMTP(host, int(port), timeout=10) as s:
        s.sendmail("keepsake@example.test", ["owner@example.test"], msg)
    deadline = time.time() + 10
    hit = None
    while time.time() < deadline and hit is None:
        for f in outdir.glob("*.eml"):
            try:
                if subject in f.read_text(errors="replace"):
                    hit = f
                    break
            except FileNotFoundError:
                pass
        time.sleep(0.2)
    assert hit, "no .eml with subject %s in %s" % (subject, outdir)
    text = hit.read_text()
    assert "Backup finished." in text and "owner@example.test" in text
    hit.unlink()


# ------------------------------------------------------------------ immich stand-ins
# The images `lab.sh start immich` pushes (tests/lab/immich_images.sh), run the way the stack
# runs them: database, redis, server with Immich's environment, host network on loopback ports.


def _immich_env():
    env = {k: need("immich", "KEEPSAKE_LAB_IMMICH_" + k) for k in (
        "REGISTRY", "VERSIONS", "BROKEN", "SERVER_REPO", "ML_REPO", "REDIS_IMAGE", "POSTGRES_IMAGE")}
    env["VERSIONS"] = env["VERSIONS"].split()
    return env


class _Containers:
    """Containers and data directories a test makes; all removed at the end, even on failure."""

    def __init__(self):
        self.d = docker_cmd()
        self.names = []
        self.dirs = []

    def tmpdir(self):
        path = Path(tempfile.mkdtemp(prefix="keepsake-lab-immich-"))
        self.dirs.append(path)
        return path

    def run(self, image, env, *args):
        name = uniq("keepsake-lab-immich")
        self.names.append(name)
        cmd = self.d + ["run", "-d", "--name", name, "--network", "host"]
        for k, v in env.items():
            cmd += ["-e", "%s=%s" % (k, v)]
        run(cmd + list(args) + [image], timeout=180)  # may pull
        return name

    def inspect(self, name):
        return json.loads(run(self.d + ["inspect", name]).stdout)[0]["State"]

    def logs(self, name):
        p = run(self.d + ["logs", name], check=False)
        return p.stdout + p.stderr

    def wait_healthy(self, name, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.inspect(name)
            if st.get("Health", {}).get("Status") == "healthy":
                return
            if not st["Running"]:
                break
            time.sleep(0.5)
        raise AssertionError("container %s not healthy (state %s); log:\n%s"
                             % (name, self.inspect(name), self.logs(name)[-3000:]))

    def wait_exit(self, name, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.inspect(name)
            if not st["Running"]:
                return st["ExitCode"]
            time.sleep(0.5)
        raise AssertionError("container %s still running after %ds; log:\n%s"
                             % (name, timeout, self.logs(name)[-3000:]))

    def remove(self, name):
        run(self.d + ["rm", "-f", name], check=False)

    def remove_all(self):
        for name in self.names:
            self.remove(name)
        for path in self.dirs:  # after the containers: the database writes into it
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def containers():
    c = _Containers()
    try:
        yield c
    finally:
        c.remove_all()


def _get(port, path):
    with no_proxy_opener().open("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def test_immich_standins_update_then_refuse_downgrade(containers):
    im = _immich_env()
    assert im["VERSIONS"] == ["v3.1.0", "v3.2.0", "v3.2.2"] and im["BROKEN"] == "v3.2.2"
    pg_port, redis_port, http_port = _free_port(), _free_port(), _free_port()
    data = containers.tmpdir()
    db = containers.run(im["POSTGRES_IMAGE"], {
        "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "Secret42", "POSTGRES_DB": "immich",
        "POSTGRES_INITDB_ARGS": "--data-checksums", "PGPORT": pg_port,
        "POSTGRES_LISTEN": "127.0.0.1"}, "-v", "%s:/var/lib/postgresql/data" % data)
    redis = containers.run(im["REDIS_IMAGE"], {"REDIS_BIND": "127.0.0.1", "REDIS_PORT": redis_port})
    containers.wait_healthy(db)
    pong = run(containers.d + ["exec", redis, "redis-cli", "-p", str(redis_port), "ping"])
    assert pong.stdout.strip() == "PONG"

    def psql(sql, password="Secret42", check=True):
        # over TCP, as the server connects: password auth
        return run(containers.d + ["exec", "-e", "PGPASSWORD=" + password, db, "psql", "-X", "-tA",
                                   "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                                   "-d", "immich", "-c", sql], check=check)

    assert psql("SELECT 1", password="wrong", check=False).returncode != 0
    server_env = {"DB_HOSTNAME": "127.0.0.1", "DB_PORT": pg_port, "DB_USERNAME": "postgres",
                  "DB_PASSWORD": "Secret42", "DB_DATABASE_NAME": "immich",
                  "REDIS_HOSTNAME": "127.0.0.1", "REDIS_PORT": redis_port,
                  "IMMICH_HOST": "127.0.0.1", "IMMICH_PORT": http_port}

    def migrations():
        return psql("SELECT version FROM standin_migrations ORDER BY version").stdout.split()

    def serve(version):
        name = containers.run("%s:%s" % (im["SERVER_REPO"], version), server_env)
        containers.wait_healthy(name)
        assert _get(http_port, "/api/server/ping") == (200, "application/json", '{"res":"pong"}')
        status, ctype, body = _get(http_port, "/api/server/version")
        major, minor, patch = (int(x) for x in version[1:].split("."))
        assert (status, ctype) == (200, "application/json")
        assert json.loads(body) == {"major": major, "minor": minor, "patch": patch,
                                    "prerelease": None}
        logs = containers.logs(name)
        assert "standin immich-server %s listening on 127.0.0.1:%d" % (version, http_port) in logs
        assert '"GET /api/server/version HTTP/1.1" 200' in logs, logs
        return name

    old = serve("v3.1.0")
    assert migrations() == ["v3.1.0"]
    containers.remove(old)
    current = serve("v3.2.0")
    assert migrations() == ["v3.1.0", "v3.2.0"]
    containers.remove(current)

    # the broken version migrates, then never answers: never healthy
    broken = containers.run("%s:%s" % (im["SERVER_REPO"], "v3.2.2"), server_env)
    deadline = time.time() + 20
    while time.time() < deadline:
        st = containers.inspect(broken)
        assert st["Running"], containers.logs(broken)
        assert st.get("Health", {}).get("Status") != "healthy"
        time.sleep(1)
    assert containers.inspect(broken)["Health"]["Status"] == "unhealthy"
    assert migrations() == ["v3.1.0", "v3.2.0", "v3.2.2"]
    with pytest.raises(OSError):
        _get(http_port, "/api/server/ping")
    containers.remove(broken)

    # v3.2.0 over a database that v3.2.2 migrated refuses to start: a rollback must restore it
    refused = containers.run("%s:%s" % (im["SERVER_REPO"], "v3.2.0"), server_env)
    assert containers.wait_exit(refused) == 1
    assert "Migrations failed" in containers.logs(refused)
    assert migrations() == ["v3.1.0", "v3.2.0", "v3.2.2"]


def test_immich_ml_standin_ping(containers):
    im = _immich_env()
    port = _free_port()
    ml = containers.run("%s:%s" % (im["ML_REPO"], "v3.2.0"),
                        {"MACHINE_LEARNING_HOST": "127.0.0.1", "MACHINE_LEARNING_PORT": port})
    containers.wait_healthy(ml)
    status, _, body = _get(port, "/ping")
    assert (status, body) == (200, "pong")
    assert '"GET /ping HTTP/1.1" 200' in containers.logs(ml)


def test_immich_standins_pull_by_digest():
    im = _immich_env()
    d = docker_cmd()
    tag_ref = "%s:v3.1.0" % im["SERVER_REPO"]
    digest_ref = "%s@%s" % (im["SERVER_REPO"], need("immich", "KEEPSAKE_LAB_IMMICH_SERVER_DIGEST_V3_1_0"))
    for ref in (tag_ref, digest_ref):
        run(d + ["rmi", ref], check=False)
    assert run(d + ["image", "inspect", digest_ref], check=False).returncode != 0, \
        "a container still uses %s: cannot prove a pull" % digest_ref
    run(d + ["pull", digest_ref], timeout=180)
    assert digest_ref in json.loads(run(d + ["image", "inspect", digest_ref]).stdout)[0]["RepoDigests"]
    for ref in (im["REDIS_IMAGE"], im["POSTGRES_IMAGE"]):
        run(d + ["pull", ref], timeout=300)
        name_tag, digest = ref.split("@")
        repo_digest = "%s@%s" % (name_tag.rsplit(":", 1)[0], digest)  # docker drops the tag
        assert repo_digest in json.loads(run(d + ["image", "inspect", ref]).stdout)[0]["RepoDigests"]
