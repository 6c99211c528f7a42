"""`scripts/bench recording`: what the recorder worker (parley-peer record-worker) costs per recorded minute, with 2
and with 4 attendees in the call, and how long after a stop its file is posted in the room. scripts/bench runs it
inside a loopback-only network namespace, against the cluster it brought up there (1 API node, 2 WS nodes and one
recorder behind HAProxy), with release builds of `parley` and `parley-peer`. Each call's attendees are parley-peers
sending the test pattern and tone; the worker is started afresh before each call, so that its peak resident set is
that call's. It writes the `recording` section of BENCHMARKS.md.

  recording.py --cluster DIR [--attendees 2 4] [--seconds 60] [--dry-run]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import textwrap
import time

from calls import Busy, Cluster, Failed, Peer, User, commit, cpu_seconds, machine, memory_kib, mib, package_version, save, write_section

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class Worker:
    """The cluster's recorder-1: its process, and its log's JSON lines."""

    def __init__(self, folder):
        self.folder = folder
        self.log = os.path.join(folder, "recorders", "recorder-1", "log")

    def restart(self):
        result = subprocess.run([os.path.join(ROOT, "scripts", "cluster"), "restart", "recorder-1"], capture_output=True, text=True,
                                env={**os.environ, "PARLEY_CLUSTER_DIR": self.folder})
        if result.returncode != 0:
            raise Failed(f"cannot restart the recorder: {result.stdout} {result.stderr}")
        self.wait("ready", 30)

    @property
    def pid(self):
        with open(os.path.join(self.folder, "recorders", "recorder-1", "pid")) as file:
            return int(file.read().split()[0])

    def events(self):
        events = []
        with open(self.log) as file:
            for line in file:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
        return events

    def wait(self, name, timeout, count=1, **fields):
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events() if e.get("event") == name and all(e.get(k) == v for k, v in fields.items())]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise Failed(f"the recorder printed no {name} {fields} within {timeout} s")
            time.sleep(0.2)


def record(cluster, worker, logs, attendees, window):
    """One call of `attendees` parley-peers, recorded for `window` seconds once the worker decodes them all: the
    worker's CPU per recorded minute and peak RSS, the file's size per minute, and the time from stop to post."""
    users = [User(cluster, logs, f"rec{n}") for n in range(attendees)]
    host = users[0]
    group = json.loads(host.parley("group", "create", f"rec{attendees}-{os.getpid()}", *sum((["--member", u.username] for u in users[1:]), []),
                                   "--json"))
    room = group["room"]["id"] if "room" in group else group["id"]
    peers = [Peer(u, ["answer", "--room", room, "--count", "1"], logs, f"rec{attendees}-answer-{n}") for n, u in enumerate(users[1:], 1)]
    caller = None
    try:
        for peer in peers:
            peer.node(30)
        caller = Peer(host, ["call", room], logs, f"rec{attendees}-call")
        _, joined = caller.event("joined", 30)
        meeting = joined["meeting"]
        for peer in peers:
            peer.event("joined", 30, meeting=meeting)
        worker.restart()
        status, answer = host.rest("POST", f"/api/meetings/{meeting}/recording")
        if status != 201:
            raise Failed(f"cannot start the recording: {status} {answer}")
        # Every attendee's first frame decoded by the worker, then a second more.
        deadline = time.monotonic() + 60
        while len({e["conn"] for e in worker.events() if e.get("event") == "first-frame"}) < attendees:
            if time.monotonic() > deadline:
                raise Failed(f"the recorder decoded {len({e['conn'] for e in worker.events() if e.get('event') == 'first-frame'})} of {attendees}")
            time.sleep(0.2)
        time.sleep(1)
        pid = worker.pid
        busy = Busy()
        t0, c0 = time.monotonic(), cpu_seconds(pid)
        time.sleep(window)
        t1, c1 = time.monotonic(), cpu_seconds(pid)
        rss = memory_kib(pid, "VmRSS")
        hwm = memory_kib(pid, "VmHWM")
        machine_busy = busy.fraction()
        stopped = time.monotonic()
        status, answer = host.rest("DELETE", f"/api/meetings/{meeting}/recording")
        if status != 200:
            raise Failed(f"cannot stop the recording: {status} {answer}")
        posted, message = None, None
        while posted is None:
            status, messages = host.rest("GET", f"/api/rooms/{room}/messages?limit=5")
            message = next((m for m in messages if m["sender"] == "recorder"), None) if status == 200 else None
            if message:
                posted = time.monotonic() - stopped
            elif time.monotonic() - stopped > 60:
                raise Failed("no recording posted within 60 s of the stop")
            else:
                time.sleep(0.05)
        recorded = worker.wait("recorded", 30)
        seconds = float(recorded["seconds"])
        size = message["files"][0]["size"]
        return {
            "attendees": attendees, "cpu_per_minute": (c1 - c0) / (t1 - t0) * 60, "cores": (c1 - c0) / (t1 - t0), "rss": rss, "hwm": hwm,
            "busy": machine_busy, "posted": posted, "seconds": seconds, "mib_per_minute": size / (1 << 20) / seconds * 60,
        }
    finally:
        for peer in [caller, *peers]:
            if peer:
                peer.close()


def markdown(options, results):
    cores, model, memory, kernel = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def paragraph(text):
        return textwrap.wrap(text, width=117, break_long_words=False, break_on_hyphens=False)

    lines = [
        f"Command: `{options.command}`, {now}{commit()}.",
        *paragraph(
            f"Machine: {cores} cores ({model}), {memory} GiB, Linux {kernel}; release builds, GStreamer "
            f"{package_version('gstreamer1.0-plugins-bad')}; everything on this machine, in one loopback-only network namespace."),
        "",
        *paragraph(
            "The worker composes every attendee into one 640×360 grid at 15 fps (VP8, realtime, at most 1 Mbit/s) with mixed "
            "Opus audio, in streamable WebM. Each call's attendees are parley-peers sending a 640×360, 30 fps test pattern "
            "(a ball and a clock on black, which compresses far better than a camera: a camera's grid comes near the "
            f"1 Mbit/s, about 8 MiB a minute) and a tone. The worker's CPU is measured over {options.seconds} s once it "
            "decodes every attendee, and it is started afresh for each call, so that its peak resident set is that call's. "
            "Stop → posted runs from `DELETE /api/meetings/{id}/recording` until the message with the file is in the "
            "room's history: the worker hears `recording.stopped` on its socket, finishes the file, lets the job go, "
            "uploads the file through the files store (a folder here) and posts it."),
        "",
        "| attendees | worker CPU per recorded minute | cores busy | resident, peak | file per minute | stop → posted | machine busy |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['attendees']} | {r['cpu_per_minute']:.1f} CPU s | {r['cores']:.2f} | {mib(r['rss'])}, {mib(r['hwm'])} | "
            f"{r['mib_per_minute']:.1f} MiB | {r['posted']:.2f} s | {r['busy']:.0%} |")
    lines += [
        "",
        *paragraph(
            "Where the cost goes: decoding each attendee's VP8 (one decoder per attendee) and scaling it into its tile, "
            "then one VP8 encode of the grid; audio is small beside video. Each attendee more adds a decoder while the "
            "encode stays one. On 2 cores the attendees' own parley-peers (each encoding once and sending to every other) "
            "share the cores with the worker, the nodes, Postgres and Redis: 'machine busy' says how full they were."),
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="The recorder worker's cost per recorded minute; figures go to BENCHMARKS.md.")
    parser.add_argument("--cluster", default=os.environ.get("PARLEY_CLUSTER_DIR", os.path.join(ROOT, ".cluster")))
    parser.add_argument("--command", default="bench/recording.py")
    parser.add_argument("--attendees", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--seconds", type=int, default=60, help="the window over which the worker's CPU is measured")
    parser.add_argument("--dry-run", action="store_true", help="print the figures only")
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    options = parser.parse_args()
    if options.seconds < 5 or any(n < 1 or n > 8 for n in options.attendees):
        parser.error("--seconds must be 5 or more, --attendees 1 to 8")
    cluster = Cluster(options.cluster)
    worker = Worker(options.cluster)
    logs = os.path.join(options.cluster, "calls")
    os.makedirs(logs, exist_ok=True)
    results = []
    for attendees in options.attendees:
        print(f"==> a call of {attendees}, recorded for {options.seconds} s", flush=True)
        results.append(record(cluster, worker, logs, attendees, options.seconds))
        print(json.dumps(results[-1]), flush=True)
    body = markdown(options, results)
    print(body)
    if options.dry_run:
        return 0
    save(options.output, write_section(options.output, body, scenario="recording"))
    print(f"wrote the recording figures to {options.output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as error:
        print(f"failed: {error}", file=sys.stderr)
        sys.exit(1)
