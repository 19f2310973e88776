#!/usr/bin/env python3
"""Real OpenStack 2026.1 sites on 127.0.0.1, for Overcast's real-services test lane.

Each site is a genuine, independent OpenStack: its own Keystone (own fernet keys, region
`RegionOne`, catalog with public/internal/admin endpoints of identity, image, placement,
network and compute), Glance (file store), Placement, Neutron API (ML2 flat on `physnet1`,
no agents), and Nova (API, conductor, scheduler, and a compute on the fake driver, so
servers booted with `"networks": "none"` go ACTIVE without any VM). All services come from
PyPI (one venv shared by every site) and store everything in SQLite. One private RabbitMQ
broker serves every site, one vhost and user per site. Nothing listens beyond 127.0.0.1.

Usage (stdlib only; the services run from the venv's bin/):

    realsites.py up [--sites N] [--cache DIR] [--clouds-yaml PATH] [--timeout S]
    realsites.py down [--cache DIR]
    realsites.py stop-site NAME [--cache DIR]
    realsites.py start-site NAME [--cache DIR]
    realsites.py status [--cache DIR]

`up` installs what is missing (Debian's rabbitmq-server, the venv; the venv again when
requirements.txt or upper-constraints.txt changed), initialises each site the first time
(its state is kept, so a later `up` only starts processes), and returns once every site
answers: a token, the full catalog, each API, and a compute host mapped and visible in
`GET /os-hypervisors`. It then writes clouds.yaml (one cloud per site, named like the site)
and prints one line of JSON on stdout. Progress and errors go to stderr; a service that
fails is named with the tail of its log.

Admin credentials of every site: user `admin`, password `os-admin-secret`, project
`admin`, domain `Default`. Service users (glance, placement, neutron, nova) are in
project `service`.

Port plan (all on 127.0.0.1, below Linux's ephemeral range, which starts at 32768):

    RabbitMQ, one broker:   epmd 30369   AMQP 30672   Erlang distribution 30673
    site os-NNN:            base = 31000 + 10 * (NNN - 1)
        base+0 Keystone   base+1 Glance   base+2 Placement   base+3 Neutron   base+4 Nova API
    so os-001 uses 31000-31004, os-002 31010-31014, ... (at most 176 sites).

Layout under DIR (default ${OVERCAST_CACHE:-~/.cache/overcast}/real-openstack):

    venv/                   the services (pip install -c upper-constraints.txt -r requirements.txt)
    rabbitmq/               the broker's config, definitions, mnesia and Erlang cookie
    sites/os-NNN/           a site: etc/ (generated each start), db/*.sqlite, keys, images
    run/NAME.pid            PID of each process we started (NAME.started: its start time,
                            so a recycled PID is never signalled)
    logs/NAME.log           each process's output; logs/os-NNN-init-*.log for first runs

Beside this script: requirements.txt and upper-constraints.txt (the venv), and
pyhooks/sitecustomize.py, on PYTHONPATH of every service (SQLite's "database is locked"
retried as a deadlock).
"""

import argparse
import base64
import concurrent.futures
import contextlib
import datetime
import fcntl
import getpass
import grp
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
# On PYTHONPATH of every OpenStack process: SQLite's "database is locked" becomes a
# DBDeadlock, which OpenStack retries (see pyhooks/sitecustomize.py).
PYHOOKS = HERE / "pyhooks"
CONSTRAINTS = HERE / "upper-constraints.txt"

REGION = "RegionOne"
ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT = "admin", "os-admin-secret", "admin"
SERVICE_PASSWORD = "os-service-secret"
RABBIT_PASSWORD = "os-rabbit-secret"

EPMD_PORT, AMQP_PORT, DIST_PORT = 30369, 30672, 30673
SITE_BASE_PORT, SITE_PORT_STRIDE = 31000, 10
MAX_SITES = 176
# Offsets of each HTTP service from the site's base port.
PORT_OFFSETS = {"keystone": 0, "glance": 1, "placement": 2, "neutron": 3, "nova": 4}
# (catalog type, service name, process that serves it, path appended to the endpoint).
CATALOG = [
    ("identity", "keystone", "keystone", "/v3"),
    ("image", "glance", "glance", ""),
    ("placement", "placement", "placement", ""),
    ("network", "neutron", "neutron", ""),
    ("compute", "nova", "nova-api", "/v2.1"),
]
SERVICE_USERS = ["glance", "placement", "neutron", "nova"]
INTERFACES = ["public", "internal", "admin"]
# Every process of a site, in start order. Compute starts last (see start_site).
SITE_PROCESSES = ["keystone", "glance", "placement", "neutron", "nova-api",
                  "nova-conductor", "nova-scheduler", "nova-compute"]
SITE_LAYOUT_VERSION = 1

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
# The broker defines vhosts for at least this many sites: adding a site then needs no
# broker restart (which costs running sites about a minute: an RPC in flight during the
# restart is lost and times out after rpc_response_timeout, 60 s).
BROKER_MIN_SITES = 4
STOP_GRACE_SECONDS = 15
INSTALL_TIMEOUT = 1800
COMMAND_TIMEOUT = 600

_print_lock = threading.Lock()
_started_at = time.monotonic()


def say(message):
    """Progress on stderr (stdout carries only the JSON summary)."""
    with _print_lock:
        print(f"[{time.monotonic() - _started_at:6.1f}s] {message}", file=sys.stderr, flush=True)


class LaunchError(Exception):
    """A failure to report: the message, and the log that explains it."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


# --------------------------------------------------------------------------- layout


class Paths:
    def __init__(self, cache):
        self.cache = Path(cache).expanduser().resolve()
        self.venv = self.cache / "venv"
        self.bin = self.venv / "bin"
        self.run = self.cache / "run"
        self.logs = self.cache / "logs"
        self.sites = self.cache / "sites"
        self.rabbit = self.cache / "rabbitmq"

    def pid_file(self, name):
        return self.run / f"{name}.pid"

    def log(self, name):
        return self.logs / f"{name}.log"


class Site:
    """Names, ports and paths of one site; nothing here touches the disk."""

    def __init__(self, paths, index):
        if not 1 <= index <= MAX_SITES:
            raise LaunchError(f"site index {index} is outside 1..{MAX_SITES} (port plan)")
        self.index = index
        self.name = f"os-{index:03d}"
        self.paths = paths
        self.dir = paths.sites / self.name
        self.etc = self.dir / "etc"
        self.db = self.dir / "db"
        base = SITE_BASE_PORT + SITE_PORT_STRIDE * (index - 1)
        self.ports = {service: base + offset for service, offset in PORT_OFFSETS.items()}
        self.controller_host = f"{self.name}-controller"
        self.compute_host = f"{self.name}-compute"

    @classmethod
    def named(cls, paths, name):
        match = re.fullmatch(r"os-(\d{3})", name)
        if not match:
            raise LaunchError(f"{name!r} is not a site name (os-001, os-002, ...)")
        return cls(paths, int(match.group(1)))

    def url(self, service, path=""):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    @property
    def auth_url(self):
        return self.url("keystone", "/v3")

    def process(self, short):
        return f"{self.name}-{short}"

    def processes(self):
        return [self.process(p) for p in SITE_PROCESSES]

    def sqlite_url(self, db_name):
        return f"sqlite:///{self.db / (db_name + '.sqlite')}"

    def initialised_marker(self):
        return self.dir / "initialised.json"

    def is_initialised(self):
        try:
            marker = json.loads(self.initialised_marker().read_text())
        except (OSError, ValueError):
            return False
        return marker.get("layout") == SITE_LAYOUT_VERSION


def known_sites(paths, count=0):
    """Sites 1..count plus every site that already has state (its vhost must survive)."""
    indexes = set(range(1, count + 1))
    if paths.sites.is_dir():
        for entry in paths.sites.iterdir():
            match = re.fullmatch(r"os-(\d{3})", entry.name)
            if match and 1 <= int(match.group(1)) <= MAX_SITES:
                indexes.add(int(match.group(1)))
    return [Site(paths, i) for i in sorted(indexes)]


# --------------------------------------------------------------------------- processes


def proc_stat(pid):
    """(state, session id, start time in clock ticks) of a process, or None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces or parentheses: split after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[3]), int(fields[19])


def session_members(sid):
    """Live processes of a session. Every process we start leads a new session, so its
    children (uwsgi workers, Erlang helpers) are found even when they outlive it; the
    kernel never reuses a PID that is still some process's session id."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat and stat[1] == sid and stat[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


_children = {}  # pid -> Popen, for processes started by this invocation (to reap them)


def _reap():
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            del _children[pid]


def recorded(paths, name):
    """(pid, start time) recorded for a process, or None."""
    try:
        pid = int(paths.pid_file(name).read_text().split()[0])
        started = int((paths.run / f"{name}.started").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid, started


def running_pid(paths, name):
    """The PID of a process we started and that still runs, else None."""
    _reap()
    record = recorded(paths, name)
    if not record:
        return None
    stat = proc_stat(record[0])
    if stat and stat[0] not in ("Z", "X") and stat[2] == record[1]:
        return record[0]
    return None


def child_env(paths, name, extra=None, in_venv=True):
    """The environment of a child: ours without OpenStack/RabbitMQ/Python settings that
    would redirect it, plus a marker naming this cache (see marked_processes)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "RABBITMQ_", "ERL_", "PYTHON", "VIRTUAL_ENV"))}
    # Services call each other on 127.0.0.1: a proxy from the environment must not apply.
    no_proxy = ",".join(filter(None, [env.get("no_proxy", ""), "127.0.0.1,localhost"]))
    env.update(no_proxy=no_proxy, NO_PROXY=no_proxy, PYTHONUNBUFFERED="1",
               OVERCAST_REALSITES=f"{paths.cache}|{name}")
    if in_venv:  # not for apt and pip: Debian's python3 and no hook for them
        env["PATH"] = f"{paths.bin}:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONPATH"] = str(PYHOOKS)
    env.update(extra or {})
    return env


def start_process(paths, name, argv, env=None, cwd=None):
    """Starts one service in its own session, output appended to logs/NAME.log."""
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_path = paths.log(name)
    with open(log_path, "ab") as log:
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        command = " ".join(map(str, argv))
        log.write(f"\n===== {stamp} realsites.py starts {name}: {command}\n".encode())
        log.flush()
        try:
            child = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                     env=child_env(paths, name, env), start_new_session=True)
        except OSError as e:
            raise LaunchError(f"{name}: cannot run {argv[0]}: {e}", log_path)
    _children[child.pid] = child
    stat = proc_stat(child.pid)
    paths.pid_file(name).write_text(f"{child.pid}\n")
    (paths.run / f"{name}.started").write_text(f"{stat[2] if stat else 0}\n")
    return child.pid


def stop_processes(paths, names, grace=STOP_GRACE_SECONDS):
    """SIGTERM each process, SIGKILL what is left of its session after `grace` seconds.
    Only PIDs recorded in run/ are signalled; safe when they are already gone."""
    sessions = {}
    for name in names:
        record = recorded(paths, name)
        if not record:
            continue
        pid, started = record
        stat = proc_stat(pid)
        leader_is_ours = stat is not None and stat[2] == started
        if leader_is_ours or session_members(pid):
            sessions[name] = pid
            if leader_is_ours:
                _signal(pid, signal.SIGTERM)
    deadline = Deadline(grace)
    while sessions and not deadline.expired():
        _reap()
        if not any(session_members(pid) for pid in sessions.values()):
            break
        time.sleep(0.2)
    for name, pid in sessions.items():
        leftovers = session_members(pid)
        if leftovers:
            say(f"{name}: still running after {grace}s, SIGKILL {leftovers}")
        for member in leftovers:
            _signal(member, signal.SIGKILL)
    deadline = Deadline(10)
    while any(session_members(pid) for pid in sessions.values()) and not deadline.expired():
        _reap()
        time.sleep(0.1)
    for name in names:
        for path in (paths.pid_file(name), paths.run / f"{name}.started"):
            path.unlink(missing_ok=True)
    return sorted(sessions)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def log_tail(path, lines=40):
    """The last lines of a log, from its last start banner on."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    banner = text.rfind("\n===== ")
    if banner > 0:
        text = text[banner + 1:]
    return "\n".join(text.splitlines()[-lines:])


def port_is_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(what, check, deadline, paths, watch=(), interval=0.5):
    """Polls check() until it returns a true value, failing early when a watched process
    exits and at the deadline with the last error. Returns check()'s value."""
    last, last_log = "no answer yet", None
    while True:
        for name in watch:
            if not running_pid(paths, name):
                raise LaunchError(f"{name} exited while waiting for {what}", paths.log(name))
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, KeyError, LaunchError) as e:
            last = str(e) or type(e).__name__
            last_log = getattr(e, "log", None)
        if deadline.expired():
            log = last_log or (paths.log(watch[0]) if watch else None)
            raise LaunchError(f"timed out after {deadline.seconds:.0f}s waiting for {what}: "
                              f"{last}", log)
        time.sleep(min(interval, deadline.left() + 0.01))


def run_command(paths, log_name, argv, timeout=COMMAND_TIMEOUT, env=None, in_venv=True):
    """Runs a set-up command to completion, output appended to logs/LOG_NAME.log."""
    log_path = paths.log(log_name)
    paths.logs.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n===== {' '.join(map(str, argv))}\n".encode())
        log.flush()
        try:
            result = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                    env=child_env(paths, log_name, env, in_venv))
        except subprocess.TimeoutExpired:
            raise LaunchError(f"{Path(argv[0]).name} did not finish within {timeout}s", log_path)
        except OSError as e:
            raise LaunchError(f"cannot run {argv[0]}: {e}", log_path)
    if result.returncode != 0:
        raise LaunchError(f"`{' '.join(map(str, argv[:4]))} ...` failed (exit "
                          f"{result.returncode})", log_path)


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx (Keystone's and Glance's version documents) is an answer


# An empty ProxyHandler: every request goes to 127.0.0.1, never through a proxy.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body or b"{}")


def http(method, url, body=None, token=None, headers=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")  # Glance answers HTML errors otherwise
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Auth-Token", token)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def expect(response, statuses, what):
    if response.status not in statuses:
        raise LaunchError(f"{what}: HTTP {response.status} {response.body[:300]!r}")
    return response


def issue_token(site, username=ADMIN_USER, password=ADMIN_PASSWORD, project=ADMIN_PROJECT):
    """(token, catalog) for a project-scoped password sign-in."""
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    response = expect(http("POST", site.url("keystone", "/v3/auth/tokens"), body), (201,),
                      f"{site.name}: token for {username}")
    return response.headers["X-Subject-Token"], response.json()["token"]["catalog"]


# --------------------------------------------------------------------------- installation


def requirements_stamp():
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + b"\0" + CONSTRAINTS.read_bytes())
    return f"sha256 {digest.hexdigest()}\n{REQUIREMENTS.read_text()}"


def ensure_venv(paths):
    """Creates or updates the venv when requirements.txt or the constraints changed."""
    stamp = paths.venv / "overcast-installed.txt"
    wanted = requirements_stamp()
    python = paths.bin / "python3"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if not python.exists():
        if sys.version_info < (3, 10):
            raise LaunchError(f"OpenStack 2026.1 needs Python >= 3.10, not "
                              f"{sys.version.split()[0]}")
        say(f"creating the venv {paths.venv} (with {sys.executable})")
        run_command(paths, "pip", [sys.executable, "-m", "venv", paths.venv], timeout=300,
                    in_venv=False)
    say("installing the OpenStack services into the venv (pip, a few minutes the first time)")
    stamp.unlink(missing_ok=True)
    run_command(paths, "pip", [paths.bin / "pip", "install", "--disable-pip-version-check",
                               "-c", CONSTRAINTS, "-r", REQUIREMENTS], timeout=INSTALL_TIMEOUT,
                in_venv=False)
    stamp.write_text(wanted)


def ensure_rabbitmq_installed(paths):
    if RABBITMQ_SERVER.exists() and find_epmd():
        return
    if os.geteuid() != 0:
        raise LaunchError("rabbitmq-server is not installed and installing it needs root: "
                          "apt-get install rabbitmq-server")
    say("installing rabbitmq-server (apt)")
    # Debian's postinst would start the system broker (0.0.0.0:5672, epmd on 0.0.0.0:4369).
    # policy-rc.d answering 101 forbids that; containers usually ship one already.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# temporary, by realsites.py: no service starts\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        run_command(paths, "apt", ["apt-get", "update"], timeout=600, env=env, in_venv=False)
        run_command(paths, "apt", ["apt-get", "install", "-y", "--no-install-recommends",
                                   "rabbitmq-server"], timeout=900, env=env, in_venv=False)
    finally:
        if ours:
            policy.unlink(missing_ok=True)
    if not RABBITMQ_SERVER.exists() or not find_epmd():
        raise LaunchError(f"apt installed rabbitmq-server but {RABBITMQ_SERVER} or epmd is "
                          f"missing", paths.log("apt"))


def find_epmd():
    found = shutil.which("epmd")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
    return str(candidates[-1]) if candidates else None


# --------------------------------------------------------------------------- RabbitMQ


def rabbit_password_hash(user, password):
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)).
    The salt is derived from the user name so the definitions file is stable."""
    salt = hashlib.sha256(user.encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def rabbit_definitions(sites):
    """Users, vhosts and permissions loaded at boot: no rabbitmqctl is ever run (a bare
    Erlang CLI would start a system epmd on 0.0.0.0:4369)."""
    users, vhosts, permissions = [], [], []
    for site in sites:
        users.append({"name": site.name, "tags": [],
                      "password_hash": rabbit_password_hash(site.name, RABBIT_PASSWORD),
                      "hashing_algorithm": "rabbit_password_hashing_sha256"})
        vhosts.append({"name": site.name})
        permissions.append({"user": site.name, "vhost": site.name,
                            "configure": ".*", "write": ".*", "read": ".*"})
    return {"users": users, "vhosts": vhosts, "permissions": permissions,
            "topic_permissions": [], "parameters": [], "global_parameters": [],
            "policies": [], "queues": [], "exchanges": [], "bindings": []}


def transport_url(site):
    return f"rabbit://{site.name}:{RABBIT_PASSWORD}@127.0.0.1:{AMQP_PORT}/{site.name}"


def rabbit_env(paths):
    base = paths.rabbit
    return {
        # The cookie lives in $HOME: a private one, not root's.
        "HOME": str(base),
        "ERL_EPMD_PORT": str(EPMD_PORT),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": "overcast-real@localhost",
        "RABBITMQ_USE_LONGNAME": "false",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(AMQP_PORT),
        "RABBITMQ_DIST_PORT": str(DIST_PORT),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_MNESIA_DIR": str(base / "mnesia" / "overcast-real"),
        "RABBITMQ_LOG_BASE": str(paths.logs),
        "RABBITMQ_LOGS": "-",  # to stdout, which is logs/rabbitmq.log
        "RABBITMQ_PID_FILE": str(base / "beam.pid"),
        # Distribution on loopback only, and never an epmd of Erlang's own choosing.
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
            "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false",
    }


def write_rabbit_config(paths, sites):
    """Writes the broker's files; True when the definitions changed."""
    base = paths.rabbit
    (base / "mnesia").mkdir(parents=True, exist_ok=True)
    (base / "rabbitmq-env.conf").write_text(
        "# empty: /etc/rabbitmq/rabbitmq-env.conf is not read\n")
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text("\n".join([
        f"listeners.tcp.default = 127.0.0.1:{AMQP_PORT}",
        "distribution.listener.interface = 127.0.0.1",
        f"distribution.listener.port_range.min = {DIST_PORT}",
        f"distribution.listener.port_range.max = {DIST_PORT}",
        f"load_definitions = {base / 'definitions.json'}",
        "disk_free_limit.absolute = 50MB",
        "log.console = true",
        "log.console.level = info",
        "",
    ]))
    definitions = base / "definitions.json"
    text = json.dumps(rabbit_definitions(sites), indent=1)
    changed = not definitions.exists() or definitions.read_text() != text
    definitions.write_text(text)
    return changed


def amqp_answers(port=AMQP_PORT):
    """True once the broker speaks AMQP: it answers the protocol header with a method
    frame (connection.start), which it only does after boot (definitions loaded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"AMQP\x00\x00\x09\x01")
        frame = conn.recv(7)
    return len(frame) == 7 and frame[0] == 1


def ensure_broker(paths, sites, timeout):
    """Starts epmd and the broker unless they run; returns when the broker was (re)started
    (UTC), since services connected before then must reconnect, or None."""
    ensure_rabbitmq_installed(paths)
    changed = write_rabbit_config(paths, sites)
    if running_pid(paths, "rabbitmq") and changed:
        say("rabbitmq: new sites, restarting the broker to load their vhosts")
        stop_processes(paths, ["rabbitmq"])
    deadline = Deadline(timeout)
    if not running_pid(paths, "epmd"):
        refuse_busy_port(EPMD_PORT, "epmd")
        start_process(paths, "epmd", [find_epmd(), "-port", EPMD_PORT, "-address", "127.0.0.1"],
                      env={"ERL_EPMD_PORT": str(EPMD_PORT), "ERL_EPMD_ADDRESS": "127.0.0.1"})
        wait_for("epmd to listen", lambda: port_is_open(EPMD_PORT), deadline, paths, ["epmd"])
    started = None
    if not running_pid(paths, "rabbitmq"):
        refuse_busy_port(AMQP_PORT, "rabbitmq")
        say("rabbitmq: starting the broker")
        started = utcnow()
        start_process(paths, "rabbitmq", [RABBITMQ_SERVER], env=rabbit_env(paths),
                      cwd=paths.rabbit)
    wait_for("RabbitMQ to answer AMQP", amqp_answers, deadline, paths, ["rabbitmq", "epmd"])
    return started


def utcnow():
    """Naive UTC, as Nova's API writes its timestamps."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def refuse_busy_port(port, name):
    if port_is_open(port):
        raise LaunchError(f"{name}: port 127.0.0.1:{port} is already taken by a process that "
                          f"is not ours (see `ss -ltnp 'sport = :{port}'`)")


# --------------------------------------------------------------------------- configuration


def ini(sections):
    lines = ["# Generated by e2e/real/realsites.py at each start; edits are overwritten."]
    for section, options in sections.items():
        lines.append(f"\n[{section}]")
        for key, value in options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def service_auth(site, user):
    """keystoneauth password options for a service user of the site."""
    return {"auth_type": "password", "auth_url": site.auth_url, "username": user,
            "password": SERVICE_PASSWORD, "project_name": "service",
            "user_domain_name": "Default", "project_domain_name": "Default",
            "region_name": REGION}


def authtoken(site, user):
    return {"www_authenticate_uri": site.auth_url, **service_auth(site, user),
            "service_token_roles_required": True}


def database(site, db_name):
    return {"connection": site.sqlite_url(db_name), "sqlite_synchronous": False}


def write_configs(paths, site):
    d = site.dir
    lock = d / "lock"
    for sub in ("etc/keystone", "etc/glance", "etc/placement", "etc/neutron", "etc/nova",
                "db", "keystone/fernet-keys", "keystone/credential-keys", "glance/images",
                "glance/staging", "glance/tasks", "neutron", "nova/instances", "lock"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for keys in ("keystone/fernet-keys", "keystone/credential-keys"):
        (d / keys).chmod(0o700)  # Keystone warns on every token when others can read them
    common = {"debug": False}  # oslo.log writes to stdout, which is logs/NAME.log
    vendor = paths.venv / "etc"

    (site.etc / "keystone/keystone.conf").write_text(ini({
        "DEFAULT": common,
        "database": database(site, "keystone"),
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": d / "keystone/fernet-keys"},
        "fernet_receipts": {"key_repository": d / "keystone/fernet-keys"},
        "credential": {"key_repository": d / "keystone/credential-keys"},
        # bcrypt's minimum cost: a sign-in costs milliseconds, not 100s of them (tests only).
        "identity": {"password_hash_rounds": 4},
        "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
    }))

    glance_paste = site.etc / "glance/glance-api-paste.ini"
    shutil.copyfile(vendor / "glance/glance-api-paste.ini", glance_paste)
    (site.etc / "glance/glance-api.conf").write_text(ini({
        "DEFAULT": {**common, "enabled_backends": "local:file"},
        "glance_store": {"default_backend": "local"},
        "local": {"filesystem_store_datadir": d / "glance/images"},
        "os_glance_staging_store": {"filesystem_store_datadir": d / "glance/staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": d / "glance/tasks"},
        "database": database(site, "glance"),
        "keystone_authtoken": authtoken(site, "glance"),
        "paste_deploy": {"flavor": "keystone", "config_file": glance_paste},
        "oslo_concurrency": {"lock_path": lock},
    }))

    (site.etc / "placement/placement.conf").write_text(ini({
        "DEFAULT": common,
        "api": {"auth_strategy": "keystone"},
        "placement_database": database(site, "placement"),
        "keystone_authtoken": authtoken(site, "placement"),
    }))

    shutil.copyfile(vendor / "neutron/api-paste.ini", site.etc / "neutron/api-paste.ini")
    (site.etc / "neutron/neutron.conf").write_text(ini({
        "DEFAULT": {**common, "core_plugin": "ml2", "service_plugins": "",
                    "auth_strategy": "keystone", "host": site.controller_host,
                    "transport_url": transport_url(site), "state_path": d / "neutron",
                    "api_paste_config": site.etc / "neutron/api-paste.ini",
                    "allow_overlapping_ips": True},
        "database": database(site, "neutron"),
        "keystone_authtoken": authtoken(site, "neutron"),
        "nova": service_auth(site, "neutron"),
        "oslo_concurrency": {"lock_path": lock},
    }))
    # Flat provider networks only: no tenant network type, no mechanism driver (no agents).
    (site.etc / "neutron/ml2_conf.ini").write_text(ini({
        "ml2": {"type_drivers": "flat", "tenant_network_types": "", "mechanism_drivers": "",
                "extension_drivers": ""},
        "ml2_type_flat": {"flat_networks": "physnet1"},
    }))
    (site.etc / "neutron/wsgi_api.py").write_text(NEUTRON_WSGI)

    shutil.copyfile(vendor / "nova/api-paste.ini", site.etc / "nova/api-paste.ini")
    nova = {
        "DEFAULT": {**common, "host": site.controller_host, "my_ip": "127.0.0.1",
                    "transport_url": transport_url(site),
                    # The fake driver that keeps a stable node identity (plain FakeDriver
                    # writes none and refuses a second start).
                    "compute_driver": "fake.FakeDriverWithoutFakeNodes",
                    "state_path": d / "nova", "instances_path": d / "nova/instances",
                    "report_interval": 5, "graceful_shutdown_timeout": 5,
                    "allow_resize_to_same_host": True},
        "api": {"auth_strategy": "keystone"},
        "api_database": database(site, "nova_api"),
        "database": database(site, "nova_cell1"),
        "wsgi": {"api_paste_config": site.etc / "nova/api-paste.ini"},
        "keystone_authtoken": authtoken(site, "nova"),
        "service_user": {**service_auth(site, "nova"), "send_service_user_token": True},
        "placement": service_auth(site, "nova"),
        "neutron": service_auth(site, "nova"),
        "glance": {"region_name": REGION},
        "cinder": {"os_region_name": REGION},
        "conductor": {"workers": 1},
        "scheduler": {"workers": 1},
        "vnc": {"enabled": False},
        "oslo_concurrency": {"lock_path": lock},
    }
    (site.etc / "nova/nova.conf").write_text(ini(nova))
    # nova-compute reaches the databases through the conductor only: with [database]
    # set, it tries and logs "No DB access allowed in nova-compute". Its own host name
    # makes its hypervisor recognisable as the site's.
    compute = {k: v for k, v in nova.items()
               if k not in ("api_database", "database", "keystone_authtoken", "wsgi", "api")}
    compute["DEFAULT"] = {**nova["DEFAULT"], "host": site.compute_host}
    (site.etc / "nova/nova-compute.conf").write_text(ini(compute))


NEUTRON_WSGI = '''"""Neutron API for realsites.py: every model mapped before the first request.

A fresh neutron API whose first request is GET /v2.0/ports answered 500 ("type object
'Port' has no attribute 'port_forwardings'"): relationships declared by models that no
code path had imported yet. Importing all models (as Neutron's unit tests do) and
configuring the mappers once, up front, avoids it.
"""
import sqlalchemy.orm

from neutron.wsgi.api import application  # noqa: F401  (reads the config, builds the app)
from neutron.db.migration.models import head  # noqa: F401,E402  (imports every model)

sqlalchemy.orm.configure_mappers()
'''

# Neutron's alembic migrations ALTER constraints, which SQLite cannot: the schema is created
# from the models instead, then stamped as the head revision.
NEUTRON_CREATE_SCHEMA = '''
import sys
import sqlalchemy
from neutron.db.migration.models import head
engine = sqlalchemy.create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
'''


def set_wal(db_file):
    """WAL is persistent in the file: set once, every later connection uses it. Without
    it Keystone answered 500 'database is locked' under parallel requests."""
    with sqlite3.connect(db_file) as conn:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise LaunchError(f"{db_file}: journal_mode stays {mode!r}, not WAL")


# --------------------------------------------------------------------------- one site


def uwsgi_argv(paths, site, service, app, extra=(), threads=4):
    """One uwsgi master and one worker per API. --lazy-apps loads the app in the worker,
    after the fork (no DB or AMQP connection shared across it); --need-app makes a
    broken app exit instead of serving 500s; --die-on-term makes SIGTERM a stop, not
    a reload.

    uwsgi's --http-socket closes every connection after its answer, but answers HTTP/1.1
    without saying so: keystoneauth then reuses a pooled connection the server is
    closing and fails with RemoteDisconnected (nova-compute died of it at start).
    `Connection: close` makes clients open a new connection per request."""
    argv = [paths.bin / "uwsgi", "--http-socket", f"127.0.0.1:{site.ports[service]}",
            "--add-header", "Connection: close",
            "--master", "--processes", "1", "--threads", str(threads), "--enable-threads",
            "--lazy-apps", "--need-app", "--die-on-term", "--single-interpreter",
            "--virtualenv", paths.venv, "--buffer-size", "65535", "--socket-timeout", "60",
            "--reload-mercy", "5", "--worker-reload-mercy", "5",
            "--procname-prefix-spaced", f"{site.name}-{service}"]
    argv += ["--wsgi-file", app] if str(app).endswith(".py") else ["--module", app]
    return argv + list(extra)


def process_spec(paths, site, short):
    """(argv, extra env) of one process of a site."""
    etc = site.etc
    nova_conf = ["--config-file", etc / "nova/nova.conf"]
    specs = {
        # One thread: a sign-in writes `user.last_active_at` in a read-then-write
        # transaction that Keystone does not retry, and SQLite refuses it ("database is
        # locked", even in WAL) when another thread committed meanwhile: 500s on parallel
        # first sign-ins of the day. Keystone's database has no other writer.
        "keystone": (uwsgi_argv(paths, site, "keystone", "keystone.wsgi.api:application",
                                threads=1),
                     {"OS_KEYSTONE_CONFIG_DIR": str(etc / "keystone")}),
        # Chunked uploads (image data streamed by clients) need these three.
        "glance": (uwsgi_argv(paths, site, "glance", "glance.wsgi.api:application",
                              ["--http-chunked-input", "--http-raw-body", "--http-auto-chunked"]),
                   {"OS_GLANCE_CONFIG_DIR": str(etc / "glance")}),
        "placement": (uwsgi_argv(paths, site, "placement", "placement.wsgi.api:application"),
                      {"OS_PLACEMENT_CONFIG_DIR": str(etc / "placement")}),
        "neutron": (uwsgi_argv(paths, site, "neutron", etc / "neutron/wsgi_api.py"),
                    {"OS_NEUTRON_CONFIG_DIR": str(etc / "neutron"),
                     "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"}),
        "nova-api": (uwsgi_argv(paths, site, "nova", "nova.wsgi.osapi_compute:application"),
                     {"OS_NOVA_CONFIG_DIR": str(etc / "nova"),
                      "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf"}),
        "nova-conductor": ([paths.bin / "nova-conductor", *nova_conf], {}),
        "nova-scheduler": ([paths.bin / "nova-scheduler", *nova_conf], {}),
        "nova-compute": ([paths.bin / "nova-compute",
                          "--config-file", etc / "nova/nova-compute.conf"], {}),
    }
    return specs[short]


def start_site_process(paths, site, short, launched):
    name = site.process(short)
    if running_pid(paths, name):
        return
    service = "nova" if short == "nova-api" else short
    if service in site.ports:
        refuse_busy_port(site.ports[service], name)
    argv, env = process_spec(paths, site, short)
    launched[short] = utcnow()
    start_process(paths, name, argv, env, cwd=site.dir)


def wait_http(paths, site, service, process, deadline):
    """The service's root (its version document) answers: the app is loaded."""
    def answers():
        return http("GET", site.url(service, "/"), timeout=30).status < 500
    wait_for(f"{process} to answer on port {site.ports[service]}", answers, deadline, paths,
             [process])


def init_commands(paths, site):
    """The first-run set-up of each service, as independent chains of commands."""
    bin_, etc = paths.bin, site.etc
    owner = [f"--keystone-user={getpass.getuser()}",
             f"--keystone-group={grp.getgrgid(os.getgid()).gr_name}"]
    keystone = [bin_ / "keystone-manage", "--config-file", etc / "keystone/keystone.conf"]
    nova = [bin_ / "nova-manage", "--config-file", etc / "nova/nova.conf"]
    neutron_conf = ["--config-file", etc / "neutron/neutron.conf",
                    "--config-file", etc / "neutron/ml2_conf.ini"]
    return {
        # Key repositories are plain files: they need no database, so they are set up
        # beside db_sync and bootstrap rather than before them.
        "keystone-keys": [
            keystone + ["fernet_setup", *owner],
            keystone + ["credential_setup", *owner],
        ],
        "keystone": [
            keystone + ["db_sync"],
            keystone + ["bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                        "--bootstrap-username", ADMIN_USER,
                        "--bootstrap-project-name", ADMIN_PROJECT,
                        "--bootstrap-role-name", "admin",
                        "--bootstrap-service-name", "keystone",
                        "--bootstrap-region-id", REGION,
                        "--bootstrap-admin-url", site.auth_url,
                        "--bootstrap-internal-url", site.auth_url,
                        "--bootstrap-public-url", site.auth_url],
        ],
        "nova": [
            nova + ["api_db", "sync"],
            nova + ["cell_v2", "map_cell0", "--database_connection", site.sqlite_url("nova_cell0")],
            nova + ["cell_v2", "create_cell", "--name", "cell1"],
            nova + ["db", "sync"],
        ],
        "neutron": [
            [bin_ / "python3", "-c", NEUTRON_CREATE_SCHEMA, site.sqlite_url("neutron")],
            [bin_ / "neutron-db-manage", *neutron_conf, "stamp", "heads"],
        ],
        "glance": [[bin_ / "glance-manage", "--config-file", etc / "glance/glance-api.conf",
                    "db_sync"]],
        "placement": [[bin_ / "placement-manage", "--config-file",
                       etc / "placement/placement.conf", "db", "sync"]],
    }


def initialise_site(paths, site, pool, deadline, launched):
    """First run: databases, keys, Keystone's users and catalog. All or nothing: a site
    without its marker is wiped and done again."""
    say(f"{site.name}: initialising (first run)")
    stop_processes(paths, site.processes())
    shutil.rmtree(site.dir, ignore_errors=True)
    write_configs(paths, site)

    def chain(service, commands):
        for argv in commands:
            run_command(paths, f"{site.name}-init-{service}", argv)
        for db in site.db.glob("*.sqlite"):
            if db.stem.startswith(service):
                set_wal(db)
        say(f"{site.name}: {service} set up")

    # Keystone's chain runs here, not in the shared pool: it is on the critical path
    # (everything else signs in to it) and must not queue behind other sites' chains.
    commands = init_commands(paths, site)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="keys") as keys_runner:
        keys = keys_runner.submit(chain, "keystone-keys", commands.pop("keystone-keys"))
        chains = {service: pool.submit(chain, service, commands.pop(service))
                  for service in ("nova", "neutron", "glance", "placement")}
        chain("keystone", commands.pop("keystone"))
        keys.result()
    start_site_process(paths, site, "keystone", launched)
    wait_http(paths, site, "keystone", site.process("keystone"), deadline)
    wait_for(f"{site.name}: a token", lambda: issue_token(site), deadline, paths,
             [site.process("keystone")])
    setup_identity(site)  # once: a retry after a partial set-up would only meet conflicts
    for future in chains.values():
        future.result()
    site.initialised_marker().write_text(json.dumps({
        "layout": SITE_LAYOUT_VERSION,
        "created": datetime.datetime.now().isoformat(timespec="seconds")}) + "\n")


def setup_identity(site):
    """Project `service`, the service users (roles admin and service there), and the
    catalog entries Keystone's bootstrap does not make."""
    token, _ = issue_token(site)
    api = site.url("keystone", "/v3")

    def create(collection, kind, body):
        response = expect(http("POST", f"{api}/{collection}", {kind: body}, token), (201,),
                          f"{site.name}: create {kind}")
        return response.json()[kind]["id"]

    roles = {r["name"]: r["id"] for r in
             expect(http("GET", f"{api}/roles", token=token), (200,), "roles").json()["roles"]}
    if "service" not in roles:
        roles["service"] = create("roles", "role", {"name": "service"})
    project = create("projects", "project", {"name": "service", "domain_id": "default",
                                             "description": "OpenStack service users"})
    for user in SERVICE_USERS:
        user_id = create("users", "user", {"name": user, "password": SERVICE_PASSWORD,
                                           "domain_id": "default", "default_project_id": project})
        for role in ("admin", "service"):
            expect(http("PUT", f"{api}/projects/{project}/users/{user_id}/roles/{roles[role]}",
                        token=token), (204,), f"grant {role} to {user}")
    for service_type, name, process, path in CATALOG[1:]:  # bootstrap made identity's
        service_id = create("services", "service", {"type": service_type, "name": name})
        port_service = "nova" if process == "nova-api" else process
        for interface in INTERFACES:
            create("endpoints", "endpoint", {"service_id": service_id, "interface": interface,
                                             "region_id": REGION,
                                             "url": site.url(port_service, path)})
    return True


def start_site(paths, site, pool, timeout, broker_started=None):
    """Starts (initialising first if needed) one site and waits until it is ready."""
    try:
        _start_site(paths, site, pool, timeout, broker_started)
    except LaunchError as e:
        # Said now: run_sites reports the first failure only after every site finished.
        say(f"{site.name}: failed: {e}")
        raise


def _start_site(paths, site, pool, timeout, broker_started):
    deadline = Deadline(timeout)
    # Nova services already running must report after a broker restart: they reconnect.
    launched = {binary: broker_started for binary in SITE_PROCESSES[-3:] if broker_started}
    # All ports first: better to fail before starting anything than half-way.
    for short in SITE_PROCESSES:
        service = "nova" if short == "nova-api" else short
        if service in site.ports and not running_pid(paths, site.process(short)):
            refuse_busy_port(site.ports[service], site.process(short))
    write_configs(paths, site)
    if not site.is_initialised():
        initialise_site(paths, site, pool, deadline, launched)
    start_site_process(paths, site, "keystone", launched)
    for short in SITE_PROCESSES[1:-1]:
        start_site_process(paths, site, short, launched)
    # nova-compute creates its resource provider at start and only retries a minute later:
    # start it once Placement and Keystone answer.
    wait_http(paths, site, "keystone", site.process("keystone"), deadline)
    wait_http(paths, site, "placement", site.process("placement"), deadline)
    start_site_process(paths, site, "nova-compute", launched)
    wait_site_ready(paths, site, deadline, launched)
    say(f"{site.name}: ready")


def nova_get(site, token, path):
    return expect(http("GET", site.url("nova", "/v2.1" + path), token=token), (200,),
                  f"GET compute {path}").json()


def check_catalog(site, catalog):
    for service_type, _, _, _ in CATALOG:
        entry = next((s for s in catalog if s["type"] == service_type), None)
        if not entry:
            raise LaunchError(f"{site.name}: the catalog has no {service_type}")
        interfaces = {e["interface"] for e in entry["endpoints"] if e.get("region_id") == REGION}
        if interfaces != set(INTERFACES):
            raise LaunchError(f"{site.name}: {service_type} endpoints in {REGION}: {interfaces}")
    return True


def wait_site_ready(paths, site, deadline, launched):
    procs = site.processes()
    token, catalog = wait_for(f"{site.name}: a token", lambda: issue_token(site), deadline,
                              paths, [site.process("keystone")])
    check_catalog(site, catalog)
    probes = [("keystone", "keystone", "/v3/projects"), ("glance", "glance", "/v2/images"),
              ("placement", "placement", "/resource_providers"),
              # /v2.0/ports first on purpose: it is the request the neutron wrapper fixes.
              ("neutron", "neutron", "/v2.0/ports"), ("neutron", "neutron", "/v2.0/networks"),
              ("nova", "nova-api", "/v2.1/flavors")]
    for service, process, path in probes:
        wait_for(f"{site.name}: GET {service} {path}",
                 lambda: expect(http("GET", site.url(service, path), token=token), (200,),
                                f"GET {service} {path}"),
                 deadline, paths, [site.process(process)])

    def nova_services_reporting():
        # A heartbeat newer than the launch means the service consumes its RPC topic
        # (it reports only after its RPC server started); an older one is the last run's.
        services = nova_get(site, token, "/os-services")["services"]
        for binary in ("nova-conductor", "nova-scheduler", "nova-compute"):
            since = launched.get(binary)
            found = [s for s in services if s["binary"] == binary and s["state"] == "up"
                     and s.get("updated_at")
                     and (since is None or parse_time(s["updated_at"]) >= since)]
            if not found:
                raise LaunchError(f"{binary} has not reported since its start",
                                  paths.log(site.process(binary)))
        return True

    wait_for(f"{site.name}: nova services to report", nova_services_reporting, deadline,
             paths, procs, interval=1)
    ensure_host_mapped(paths, site, deadline)

    def hypervisor_visible():
        hypervisors = nova_get(site, token, "/os-hypervisors")["hypervisors"]
        if not any(h["hypervisor_hostname"] == site.compute_host and h["state"] == "up"
                   and h["status"] == "enabled" for h in hypervisors):
            raise LaunchError(f"hypervisors: {hypervisors}",
                              paths.log(site.process("nova-compute")))
        return True

    wait_for(f"{site.name}: hypervisor {site.compute_host} in GET /os-hypervisors",
             hypervisor_visible, deadline, paths, [site.process("nova-api")], interval=1)

    def resource_provider_has_inventory():
        placement = site.url("placement")
        providers = expect(http("GET", f"{placement}/resource_providers?name={site.compute_host}",
                                token=token), (200,), "resource providers").json()
        for rp in providers["resource_providers"]:
            inventories = expect(http("GET", f"{placement}/resource_providers/{rp['uuid']}"
                                             "/inventories", token=token), (200,),
                                 "inventories").json()["inventories"]
            if "VCPU" in inventories:
                return True
        return False

    wait_for(f"{site.name}: the compute's resource provider in placement",
             resource_provider_has_inventory, deadline, paths,
             [site.process("nova-compute")], interval=1)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=None)


def host_is_mapped(site):
    """Read from the site's own nova_api database: no API lists host mappings, and
    `nova-manage cell_v2 list_hosts` costs seconds of imports per poll."""
    uri = f"file:{site.db / 'nova_api.sqlite'}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as conn:
        row = conn.execute("SELECT 1 FROM host_mappings WHERE host = ?",
                           (site.compute_host,)).fetchone()
    return row is not None


def ensure_host_mapped(paths, site, deadline):
    """A boot before the compute host is mapped to its cell goes to ERROR ("No
    host-to-cell mapping found"). Once mapped, it stays mapped across restarts."""
    def mapped():
        if host_is_mapped(site):
            return True
        run_command(paths, f"{site.name}-discover-hosts",
                    [paths.bin / "nova-manage", "--config-file", site.etc / "nova/nova.conf",
                     "cell_v2", "discover_hosts", "--verbose"],
                    timeout=max(30, int(deadline.left())))
        return host_is_mapped(site)

    wait_for(f"{site.name}: host {site.compute_host} mapped to cell1", mapped, deadline, paths,
             [site.process("nova-compute")], interval=2)


def stop_site(paths, site):
    return stop_processes(paths, site.processes())


# --------------------------------------------------------------------------- commands


def write_clouds_yaml(path, sites):
    q = json.dumps  # a JSON string is a valid YAML scalar
    lines = ["# Written by e2e/real/realsites.py: one cloud per real OpenStack site.", "clouds:"]
    for site in sites:
        lines += [
            f"  {site.name}:",
            "    auth:",
            f"      auth_url: {q(site.auth_url)}",
            f"      username: {q(ADMIN_USER)}",
            f"      password: {q(ADMIN_PASSWORD)}",
            f"      project_name: {q(ADMIN_PROJECT)}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {REGION}",
            "    interface: public",
            "    identity_api_version: 3",
        ]
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.chmod(0o600)
    temporary.replace(path)


def site_summary(site):
    return {"name": site.name, "auth_url": site.auth_url, "region": REGION, "ports": site.ports}


def run_sites(paths, sites, timeout, broker_started=None):
    """Starts the given sites in parallel (one thread each; set-up commands share a pool
    sized to the machine), raising the first failure."""
    workers = max(2, 2 * (os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="cmd") as pool, \
            concurrent.futures.ThreadPoolExecutor(len(sites), thread_name_prefix="site") as runner:
        futures = [runner.submit(start_site, paths, site, pool, timeout, broker_started)
                   for site in sites]
        for future in futures:
            future.result()


def cmd_up(args):
    began = time.monotonic()
    paths = Paths(args.cache)
    if not 1 <= args.sites <= MAX_SITES:
        raise LaunchError(f"--sites must be within 1..{MAX_SITES}")
    sites = [Site(paths, i) for i in range(1, args.sites + 1)]
    for d in (paths.run, paths.logs, paths.sites, paths.rabbit):
        d.mkdir(parents=True, exist_ok=True)
    ensure_venv(paths)
    broker_started = ensure_broker(paths, known_sites(paths, max(args.sites, BROKER_MIN_SITES)),
                                   timeout=min(args.timeout, 180))
    run_sites(paths, sites, args.timeout, broker_started)
    clouds_yaml = Path(args.clouds_yaml or paths.cache / "clouds.yaml").expanduser()
    write_clouds_yaml(clouds_yaml, sites)
    print(json.dumps({"sites": [site_summary(s) for s in sites],
                      "rabbitmq": {"amqp": AMQP_PORT, "epmd": EPMD_PORT},
                      "clouds_yaml": str(clouds_yaml), "cache": str(paths.cache),
                      "seconds": round(time.monotonic() - began, 1)}), flush=True)


def all_recorded_names(paths):
    return sorted(p.stem for p in paths.run.glob("*.pid")) if paths.run.is_dir() else []


def cmd_down(args):
    paths = Paths(args.cache)
    names = all_recorded_names(paths)
    broker = [n for n in ("rabbitmq", "epmd") if n in names]
    services = [n for n in names if n not in broker]
    # Services first (they would log reconnect errors otherwise), then the broker, epmd last.
    stopped = stop_processes(paths, services)
    stopped += stop_processes(paths, [n for n in broker if n == "rabbitmq"])
    stopped += stop_processes(paths, [n for n in broker if n == "epmd"])
    leftovers = marked_processes(paths)
    for pid in leftovers:
        say(f"process {pid} carries this cache's marker but was not recorded: SIGKILL")
        _signal(pid, signal.SIGKILL)
    print(json.dumps({"stopped": stopped, "unrecorded_killed": leftovers}))


def marked_processes(paths):
    """Processes started from this cache that a pid file missed (e.g. a launcher killed
    between the fork and writing the file): our marker is in their environment."""
    marker = f"OVERCAST_REALSITES={paths.cache}|".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            stat = proc_stat(int(entry))
            if marker in environ and stat and stat[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def cmd_stop_site(args):
    paths = Paths(args.cache)
    site = Site.named(paths, args.name)
    print(json.dumps({"site": site.name, "stopped": stop_site(paths, site)}))


def cmd_start_site(args):
    began = time.monotonic()
    paths = Paths(args.cache)
    site = Site.named(paths, args.name)
    if not site.dir.is_dir():
        raise LaunchError(f"{site.name} has no state under {paths.sites}: `up --sites "
                          f"{site.index}` creates it")
    ensure_venv(paths)
    broker_started = ensure_broker(paths, known_sites(paths, BROKER_MIN_SITES),
                                   timeout=min(args.timeout, 180))
    run_sites(paths, [site], args.timeout, broker_started)
    print(json.dumps({**site_summary(site), "seconds": round(time.monotonic() - began, 1)}))


def memory_kib(pids):
    """(RSS, PSS) in KiB summed over processes; PSS splits shared pages fairly."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key == "Rss":
                    rss += int(value.split()[0])
                elif key == "Pss":
                    pss += int(value.split()[0])
        except OSError:
            pass
    return rss, pss


def cmd_status(args):
    paths = Paths(args.cache)
    report = {}
    names = set(all_recorded_names(paths))
    names.update(n for site in known_sites(paths) for n in site.processes())
    if paths.rabbit.is_dir():
        names.update(["epmd", "rabbitmq"])
    for name in sorted(names):
        pid = running_pid(paths, name)
        members = session_members(pid) if pid else []
        rss, pss = memory_kib(members)
        report[name] = {"pid": pid, "running": bool(pid), "processes": len(members),
                        "rss_mib": round(rss / 1024), "pss_mib": round(pss / 1024)}
    groups = {}
    for name, entry in report.items():
        group = name[:6] if name.startswith("os-") else "broker"
        g = groups.setdefault(group, {"running": 0, "stopped": 0, "pss_mib": 0, "rss_mib": 0})
        g["running" if entry["running"] else "stopped"] += 1
        g["pss_mib"] += entry["pss_mib"]
        g["rss_mib"] += entry["rss_mib"]
    for name, entry in report.items():
        if entry["running"]:
            print(f"{name:<24} pid {entry['pid']:>7}  rss {entry['rss_mib']:>5} MiB  "
                  f"pss {entry['pss_mib']:>5} MiB")
        else:
            print(f"{name:<24} stopped")
    for group, g in sorted(groups.items()):
        print(f"{group:<24} {g['running']} running, {g['stopped']} stopped, "
              f"rss {g['rss_mib']} MiB, pss {g['pss_mib']} MiB")
    if not report:
        print("nothing recorded: no process of ours runs")


@contextlib.contextmanager
def exclusive(paths, timeout=1800):
    """One mutating invocation per cache at a time (an `up` and a `down` interleaved
    would leave half-started sites). Waits, bounded, for the other one to finish."""
    paths.cache.mkdir(parents=True, exist_ok=True)
    with open(paths.cache / ".lock", "a+") as lock:
        deadline, told = Deadline(timeout), False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.expired():
                    raise LaunchError(f"another realsites.py still holds {paths.cache}/.lock "
                                      f"after {timeout}s")
                if not told:
                    say(f"waiting for another realsites.py working on {paths.cache}")
                    told = True
                time.sleep(0.5)
        yield


def main(argv=None):
    default_cache = Path(os.environ.get("OVERCAST_CACHE", "~/.cache/overcast")) / "real-openstack"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text, timeout=True):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--cache", default=str(default_cache),
                       help="state, venv, logs and pid files (default: %(default)s)")
        if timeout:
            p.add_argument("--timeout", type=float, default=900,
                           help="seconds a site may take to become ready (default: %(default)s)")
        p.set_defaults(func=func)
        return p

    up = command("up", cmd_up, "install what is missing, start every site, wait until ready")
    up.add_argument("--sites", type=int, default=2)
    up.add_argument("--clouds-yaml", help="where to write clouds.yaml (default: CACHE/clouds.yaml)")
    command("down", cmd_down, "stop every process this cache started", timeout=False)
    command("stop-site", cmd_stop_site, "stop one site's processes (state kept)",
            timeout=False).add_argument("name")
    command("start-site", cmd_start_site,
            "start one site again, wait until ready").add_argument("name")
    command("status", cmd_status, "which processes run, and their memory", timeout=False)
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            args.func(args)
        else:
            with exclusive(Paths(args.cache)):
                args.func(args)
    except LaunchError as e:
        print(f"realsites: error: {e}", file=sys.stderr)
        if e.log:
            print(f"--- last lines of {e.log} ---\n{log_tail(e.log)}\n--- end of {e.log} ---",
                  file=sys.stderr)
        if args.command in ("up", "start-site"):
            print("realsites: processes already started keep running: `down` stops them",
                  file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
