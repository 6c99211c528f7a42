"""`scripts/bench files`: what files cost a node, on `dir:` through the cluster scripts/bench brings up (1 API node
and 2 WS nodes behind HAProxy, release build, the files in a folder of the cluster's): upload and download throughput
(MiB/s) and the API node's CPU per MiB, one file at a time; and the API node's resident set while 10 clients each
upload 25 MiB at once (then download them at once), which stays flat when the bytes stream through. It writes the
`files` section of BENCHMARKS.md and the peak-RSS row of the targets table for this machine.

The clients are threads of this script (Python's http.client) on the same cores as the cluster: the throughput is
the whole path's, the client's included; the CPU per MiB is the node's alone.

  files.py --cluster DIR [--files 10] [--clients 10] [--mib 25] [--dry-run]
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calls import Busy, commit, cpu_seconds, machine, memory_kib, save, update_targets, write_section  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PASSWORD = "correct horse battery"
MIB = 1 << 20
TARGET = "files: peak RSS growth of the API node while 10 clients each upload 25 MiB at once: < 64 MiB"
TARGET_MIB = 64


class Failed(Exception):
    pass


# MARK: The cluster


class Cluster:
    def __init__(self, folder):
        self.folder = folder
        with open(os.path.join(folder, "port")) as file:
            self.port = int(file.read().strip())
        nodes = os.path.join(folder, "nodes")
        with open(os.path.join(folder, "bin")) as file:
            binary = os.path.realpath(file.read().strip())
        self.api = {}
        for name in sorted(os.listdir(nodes)):
            with open(os.path.join(nodes, name, "role")) as file:
                role = file.read().strip()
            if role == "api":
                with open(os.path.join(nodes, name, "pid")) as file:
                    pid = int(file.read().split()[0])
                if os.path.realpath(f"/proc/{pid}/exe") != binary:
                    raise Failed(f"process {pid} of {name} is not {binary}")
                self.api[name] = pid
        with open(os.path.join(folder, "haproxy.pid")) as file:
            self.haproxy = int(file.read().split()[0])

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120, blocksize=MIB)

    def cpu(self):
        """CPU seconds so far: the API nodes together, and HAProxy."""
        return sum(cpu_seconds(pid) for pid in self.api.values()), cpu_seconds(self.haproxy)


def call(cluster, method, path, body=None, token=None, expect=(200, 201)):
    connection = cluster.connection()
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status not in expect:
            raise Failed(f"{method} {path}: {response.status} {data[:300]!r}")
        return response, (json.loads(data) if data and response.getheader("Content-Type", "").startswith("application/json") else None)
    finally:
        connection.close()


class User:
    def __init__(self, cluster, prefix):
        self.cluster = cluster
        self.username = f"{prefix}{uuid.uuid4().hex[:8]}"
        _, session = call(cluster, "POST", "/api/auth/register", {"username": self.username, "password": PASSWORD, "name": prefix.title()})
        self.token = session["accessToken"]

    def api(self, method, path, body=None, expect=(200, 201)):
        return call(self.cluster, method, "/api/" + path, body, self.token, expect)[1]

    def announce(self, room, name, size):
        return self.api("POST", f"rooms/{room}/files", {"name": name, "size": size, "contentType": "application/octet-stream"})

    def send(self, room, files):
        for start in range(0, len(files), 10):
            self.api("POST", f"rooms/{room}/messages", {"clientId": str(uuid.uuid4()), "files": files[start:start + 10]})


def upload(cluster, announced, data):
    """PUTs the bytes to the announced link through HAProxy; the seconds it took."""
    link = announced["upload"]
    connection = cluster.connection()
    try:
        started = time.monotonic()
        connection.request(link["method"], link["url"], body=data, headers={**link["headers"], "Content-Length": str(len(data))})
        response = connection.getresponse()
        response.read()
        took = time.monotonic() - started
        if response.status != 204:
            raise Failed(f"upload: {response.status}")
        return took
    finally:
        connection.close()


def download(cluster, user, file, digest=False):
    """GET /api/files/FILE, then its Location without the token, read in 1 MiB pieces: (seconds, bytes, sha256)."""
    started = time.monotonic()
    response, _ = call(cluster, "GET", f"/api/files/{file}", token=user.token, expect=(302,))
    location = urllib.parse.urlsplit(response.getheader("Location"))
    connection = cluster.connection()
    try:
        connection.request("GET", location.path + "?" + location.query)
        response = connection.getresponse()
        if response.status != 200:
            raise Failed(f"download: {response.status}")
        buffer, count, hasher = bytearray(MIB), 0, hashlib.sha256() if digest else None
        view = memoryview(buffer)
        while True:
            n = response.readinto(buffer)
            if not n:
                break
            count += n
            if hasher:
                hasher.update(view[:n])
        return time.monotonic() - started, count, hasher.hexdigest() if hasher else None
    finally:
        connection.close()


# MARK: Memory


class Resident:
    """The API node's resident set while something runs: before, sampled every 10 ms, and its peak (VmHWM, reset
    before the run through /proc/PID/clear_refs when this process may)."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []
        self.stop = threading.Event()
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as file:
                file.write("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.before = memory_kib(pid, "VmRSS")
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while not self.stop.is_set():
            self.samples.append(memory_kib(self.pid, "VmRSS"))
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.thread.join()
        self.after = memory_kib(self.pid, "VmRSS")
        self.peak_sampled = max(self.samples + [self.after])
        self.hwm = memory_kib(self.pid, "VmHWM") if self.reset else None
        self.peak = max(self.peak_sampled, self.hwm or 0)
        return self


def at_once(count, work):
    """`work(i)` in `count` threads that start together; (wall seconds, results)."""
    results, errors = [None] * count, []
    gate = threading.Barrier(count + 1)

    def run(i):
        gate.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    if errors:
        raise Failed(f"{len(errors)} of {count} clients failed: {errors[0]}")
    return took, results


# MARK: The runs


def run(cluster, options):
    size = options.mib * MIB
    # The same bytes for every file: random, so that nothing on the way could shrink them.
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    alice, bob = User(cluster, "alice"), User(cluster, "bob")
    _, contact = call(cluster, "POST", "/api/contacts", {"username": bob.username}, alice.token)
    room = contact["room"]
    node = next(iter(cluster.api.values()))
    figures = {"size": size}

    # Warm-up, unrecorded: a small file up, sent, and down.
    small = alice.announce(room, "warm-up.bin", MIB)
    upload(cluster, small, data[:MIB])
    alice.send(room, [small["file"]["id"]])
    download(cluster, bob, small["file"]["id"])
    time.sleep(1)

    # 10 clients upload 25 MiB each at once, then download them at once: the node's resident set throughout.
    print(f"==> {options.clients} clients each upload {options.mib} MiB at once", flush=True)
    announced = [alice.announce(room, f"together-{i}.bin", size) for i in range(options.clients)]
    cpu0 = cluster.cpu()
    memory = Resident(node)
    took, _ = at_once(options.clients, lambda i: upload(cluster, announced[i], data))
    figures["together_up"] = {"memory": memory.finish(), "seconds": took, "cpu": cluster.cpu()[0] - cpu0[0]}
    alice.send(room, [a["file"]["id"] for a in announced])
    time.sleep(1)
    print(f"==> {options.clients} clients each download {options.mib} MiB at once", flush=True)
    cpu0 = cluster.cpu()
    memory = Resident(node)
    took, results = at_once(options.clients, lambda i: download(cluster, bob, announced[i]["file"]["id"], digest=True))
    figures["together_down"] = {"memory": memory.finish(), "seconds": took, "cpu": cluster.cpu()[0] - cpu0[0]}
    if any(r[2] != digest for r in results):
        raise Failed("a download at once did not bring back the bytes uploaded")

    # One file at a time: throughput and CPU per MiB.
    print(f"==> {options.files} uploads of {options.mib} MiB, one at a time", flush=True)
    one = [alice.announce(room, f"one-{i}.bin", size) for i in range(options.files)]
    cpu0, started = cluster.cpu(), time.monotonic()
    times = [upload(cluster, announced, data) for announced in one]
    cpu1, wall = cluster.cpu(), time.monotonic() - started
    figures["up"] = {"times": times, "wall": wall, "node": cpu1[0] - cpu0[0], "haproxy": cpu1[1] - cpu0[1]}
    alice.send(room, [a["file"]["id"] for a in one])
    print(f"==> {options.files} downloads of {options.mib} MiB, one at a time", flush=True)
    cpu0, started = cluster.cpu(), time.monotonic()
    results = [download(cluster, bob, a["file"]["id"]) for a in one]
    cpu1, wall = cluster.cpu(), time.monotonic() - started
    if any(r[1] != size for r in results):
        raise Failed("a download came back short")
    if download(cluster, bob, one[0]["file"]["id"], digest=True)[2] != digest:
        raise Failed("a download did not bring back the bytes uploaded")
    figures["down"] = {"times": [r[0] for r in results], "wall": wall, "node": cpu1[0] - cpu0[0], "haproxy": cpu1[1] - cpu0[1]}
    return figures


# MARK: BENCHMARKS.md


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def throughput_row(label, figures, size, count):
    rates = [size / MIB / t for t in figures["times"]]
    total = size * count / MIB
    return (f"| {label} | {statistics.median(rates):.0f} MiB/s | {min(rates):.0f}–{max(rates):.0f} MiB/s | "
            f"{total / figures['wall']:.0f} MiB/s | {figures['node'] / total * 1000:.1f} ms | "
            f"{figures['haproxy'] / total * 1000:.1f} ms |")


def memory_row(label, figures, size, count):
    m = figures["memory"]
    total = size * count / MIB
    return (f"| {label} | {mib(m.before)} | {mib(m.peak)} | +{mib(m.peak - m.before)} | {mib(m.after)} | "
            f"{total / figures['seconds']:.0f} MiB/s | {figures['cpu'] / total * 1000:.1f} ms |")


def markdown(options, figures, idle):
    cores, model, memory, kernel = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    size, n, c = figures["size"], options.files, options.clients
    peak = figures["together_up"]["memory"]
    how = ("the peak is the higher of `VmHWM`, reset through `/proc/PID/clear_refs` just before, and `VmRSS` sampled every "
           "10 ms" if peak.reset else "the peak is `VmRSS` sampled every 10 ms")
    lines = [
        f"Command: `{options.command}`, {now}{commit()}.",
        f"Machine: {cores} cores ({model}), {memory} GiB, Linux {kernel}; Parley built with `swift build -c release`.",
        "",
        "Files on `dir:` (a folder of the cluster's on the local disk) through HAProxy to the one API node, which "
        "serves both the upload link and the download link. The clients are threads of `bench/files.py` (Python's "
        "`http.client`, 1 MiB reads) on the same cores: throughput is the whole path's, the client's and HAProxy's "
        "included; CPU is user and system time from `/proc/PID/stat`. Every file holds the same random bytes, "
        "checked by SHA-256 on the way back.",
        "",
        f"One file of {options.mib} MiB at a time, {n} of each, after an unrecorded 1 MiB warm-up. An upload is "
        "timed from its PUT to the node's 204 (the announcement before it is not counted); a download from "
        "`GET /api/files/{id}` (the redirect) to the last byte of its Location.",
        "",
        "| direction | per file, median | per file, range | all | API node CPU per MiB | HAProxy CPU per MiB |",
        "|---|---|---|---|---|---|",
        throughput_row("upload", figures["up"], size, n),
        throughput_row("download", figures["down"], size, n),
        "",
        f"{c} clients at once, each with a file of {options.mib} MiB: the API node's resident set before (idle, after "
        f"the warm-up), its peak while they ran ({how}), and after; with the aggregate throughput and the node's CPU "
        "per MiB. A node that held whole files would grow by "
        f"{c * options.mib} MiB.",
        "",
        "| at once | RSS before | peak | growth | after | all | API node CPU per MiB |",
        "|---|---|---|---|---|---|---|",
        memory_row(f"{c} uploads", figures["together_up"], size, c),
        memory_row(f"{c} downloads", figures["together_down"], size, c),
        "",
        f"Everything shares the machine's {cores} cores: they were {idle:.0%} busy in 3 s before the run, with the "
        "cluster idle.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="Files' throughput, CPU per MiB and the node's RSS; figures go to BENCHMARKS.md.")
    parser.add_argument("--cluster", default=os.environ.get("PARLEY_CLUSTER_DIR", os.path.join(ROOT, ".cluster")))
    parser.add_argument("--command", default="bench/files.py")
    parser.add_argument("--files", type=int, default=10, help="files uploaded, then downloaded, one at a time")
    parser.add_argument("--clients", type=int, default=10, help="clients that upload, then download, at once")
    parser.add_argument("--mib", type=int, default=25, help="the size of each file in MiB (at most the node's PARLEY_FILE_MAX_BYTES)")
    parser.add_argument("--dry-run", action="store_true", help="print the figures only")
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    options = parser.parse_args()
    if options.files < 1 or options.clients < 1 or options.mib < 1:
        parser.error("--files, --clients and --mib must be positive")

    cluster = Cluster(options.cluster)
    busy = Busy()
    time.sleep(3)
    idle = busy.fraction()
    print(f"==> before the run, with the cluster idle, the cores were {idle:.0%} busy", flush=True)
    figures = run(cluster, options)
    body = markdown(options, figures, idle)
    print(body)
    growth = (figures["together_up"]["memory"].peak - figures["together_up"]["memory"].before) / 1024
    figure = f"+{growth:.1f} MiB"
    standard = options.clients == 10 and options.mib == 25
    print(f"target: {TARGET}: {figure}" + ("" if standard else " (not the target's 10 × 25 MiB: the table is left alone)"))
    if options.dry_run:
        return 0
    text = write_section(options.output, body, scenario="files")
    if standard:
        text = update_targets(text, figure, "yes" if growth < TARGET_MIB else "no", scenario="files", target=TARGET)
    save(options.output, text)
    print(f"wrote the files figures to {options.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as error:
        print(f"files: {error}", file=sys.stderr)
        sys.exit(1)
