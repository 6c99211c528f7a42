"""`scripts/bench calls`: how long a call takes to set up across WS nodes, parley-peer to parley-peer and Chromium to
Chromium, and what one parley-peer costs during a call. scripts/bench runs it inside a loopback-only network
namespace, against the cluster it brought up there (1 API node and 2 WS nodes behind HAProxy), with release builds
of `parley` and `parley-peer` (PARLEY_BIN, PARLEY_PEER_BIN). It writes the `calls` section of BENCHMARKS.md and the
call set-up row of the targets table for this machine.

  calls.py --cluster DIR [--calls 20] [--call-seconds 3] [--seconds 20] [--no-browsers] [--dry-run]
"""

import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PARLEY = os.environ.get("PARLEY_BIN", os.path.join(ROOT, ".build", "release", "parley"))
PEER = os.environ.get("PARLEY_PEER_BIN", os.path.join(ROOT, ".build", "release", "parley-peer"))
PASSWORD = "correct horse battery"
# Loopback is all the namespace has; a stats line per second per peer shows that media flows; JSON lines to read.
PEER_OPTIONS = ("--ice-address", "127.0.0.1", "--stats", "--json")
# The same Chromium as e2e/browser: headless, a fake camera and microphone, loopback allowed for WebRTC.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
]
TARGET = "call set-up, p50, parley-peer ↔ parley-peer across nodes: < 1 s"
TARGET_SECONDS = 1.0


class Failed(Exception):
    pass


# MARK: Figures


def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it (of 20, p99 is the slowest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(value):
    return "—" if value is None or math.isnan(value) else f"{value:.0f} ms"


def seconds(value):
    return "—" if value is None or math.isnan(value) else f"{value / 1000:.2f} s"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


# MARK: The cluster and its users


class Cluster:
    def __init__(self, folder):
        with open(os.path.join(folder, "port")) as file:
            self.port = int(file.read().strip())
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, node):
        """The web client asking HAProxy for WS node `node`, with its read-only test window (`window.parley`)."""
        return f"{self.base}/?node={node}&test=1"

    def request(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


class User:
    """One person with a machine of their own: `parley` and `parley-peer` with a config folder of their own, and a
    session of the benchmark's for REST (to read and end meetings)."""

    def __init__(self, cluster, folder, prefix):
        self.cluster = cluster
        self.username = f"{prefix}{uuid.uuid4().hex[:8]}"
        self.home = os.path.join(folder, self.username)
        os.makedirs(self.home)
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")},
            "XDG_CONFIG_HOME": self.home, "PARLEY_SERVER": cluster.base,
        }
        self.parley("register", self.username, "--name", prefix.title(), "--password-stdin", input=PASSWORD + "\n")
        self.token = None

    def parley(self, *arguments, input=None):
        result = subprocess.run([PARLEY, *arguments], env=self.environment, input=input, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise Failed(f"parley {' '.join(arguments)} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def rest(self, method, path):
        for _ in range(2):
            if self.token is None:
                status, session = self.cluster.request("POST", "/api/auth/login", {"username": self.username, "password": PASSWORD})
                if status != 200:
                    raise Failed(f"cannot sign {self.username} in: {status} {session}")
                self.token = session["accessToken"]
            status, answer = self.cluster.request(method, path, token=self.token)
            if status != 401:
                return status, answer
            self.token = None
        return status, answer


# MARK: parley-peer


def cpu_seconds(pid):
    """User and system time of a process so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Busy:
    """How busy the machine's cores were between two readings of /proc/stat, every process counted: 0 to 1."""

    @staticmethod
    def read():
        with open("/proc/stat") as file:
            fields = [int(x) for x in file.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    def __init__(self):
        self.start = self.read()

    def fraction(self):
        (busy0, total0), (busy1, total1) = self.start, self.read()
        return (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")


def memory_kib(pid, field):
    """A field of /proc/PID/status in KiB, such as VmHWM (the peak resident set) or VmRSS."""
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failed(f"no {field} for process {pid}")


class Peer:
    """A running parley-peer whose stdout (JSON) and stderr lines are read as they come, each stamped with
    time.monotonic() on arrival, and kept in its log."""

    def __init__(self, user, arguments, logs, name):
        self.name = name
        self.log = open(os.path.join(logs, f"{name}.log"), "w")
        self.command = [PEER, *arguments, *PEER_OPTIONS]
        self.log.write("$ " + " ".join(self.command) + "\n")
        self.lines = []
        self.changed = threading.Condition()
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(
            self.command, env=user.environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self.readers = [threading.Thread(target=self._read, args=(stream, kind), daemon=True)
                        for stream, kind in ((self.process.stdout, "out"), (self.process.stderr, "err"))]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, kind):
        for line in stream:
            arrived = time.monotonic()
            line = line.rstrip("\n")
            value = line
            if kind == "out":
                try:
                    value = json.loads(line)
                except ValueError:
                    value = {"event": "unreadable", "line": line}
            with self.changed:
                self.lines.append((arrived, kind, value))
                self.log.write(f"{arrived - self.spawned:9.3f} {kind} {line}\n")
                self.changed.notify_all()

    def mark(self):
        with self.changed:
            return len(self.lines)

    def wait(self, what, test, timeout, since=0):
        """The first line from `since` on that `test(kind, value)` accepts: (arrival time, value)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            index = since
            while True:
                while index < len(self.lines):
                    arrived, kind, value = self.lines[index]
                    index += 1
                    if test(kind, value):
                        return arrived, value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failed(f"{self.name}: no {what} within {timeout} s")
                if self.process.poll() is not None and all(not r.is_alive() for r in self.readers) and index >= len(self.lines):
                    raise Failed(f"{self.name}: exited {self.process.returncode} before {what}")
                self.changed.wait(min(left, 0.2))

    def event(self, name, timeout, since=0, **fields):
        return self.wait(
            f"{name} {fields}" if fields else name,
            lambda kind, value: kind == "out" and value.get("event") == name and all(value.get(k) == v for k, v in fields.items()),
            timeout, since)

    def node(self, timeout, since=0):
        """The WS node of its latest connection from `since` on, as stderr names it: `connected to node X as CONN`."""
        _, line = self.wait("a connection", lambda kind, value: kind == "err" and "connected to node " in value, timeout, since)
        return re.search(r"connected to node (\S+) as (\S+)", line).group(1)

    def last_node(self):
        with self.changed:
            for _, kind, value in reversed(self.lines):
                if kind == "err" and "connected to node " in value:
                    return re.search(r"connected to node (\S+)", value).group(1)
        return None

    def stats(self, since, until):
        """Its stats lines that arrived between two times, with their arrival times."""
        with self.changed:
            return [(t, v) for t, k, v in self.lines if k == "out" and v.get("event") == "stats" and since <= t <= until]

    def finish(self, timeout):
        """Waits for the exit (SIGTERM, then SIGKILL, once `timeout` is over); the exit status."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                return self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=5)
        finally:
            for reader in self.readers:
                reader.join(timeout=5)

    def close(self):
        if self.process.poll() is None:
            self.finish(0)
        self.log.close()


def end_meeting(alice, meeting, bot, since, timeout=30):
    """Makes sure a call has ended once the caller has left: the answering bot hangs up with the last other attendee,
    which ends the meeting; one still open is ended over REST. True when it was still open."""
    try:
        bot.event("ended", 5, since, meeting=meeting)
        return False
    except Failed:
        pass
    status, answer = alice.rest("GET", f"/api/meetings/{meeting}")
    still_open = status == 200 and answer.get("state") in ("ringing", "active")
    if still_open:
        status, answer = alice.rest("POST", f"/api/meetings/{meeting}/end")
        if status != 200:
            raise Failed(f"cannot end meeting {meeting}: {status} {answer}")
    bot.event("ended", timeout, since, meeting=meeting)
    return still_open


def peer_calls(cluster, logs, calls, call_seconds):
    """`calls` calls, after an unrecorded one, from a fresh `parley-peer call @bob` each to an answering bot."""
    alice, bob = User(cluster, logs, "alice"), User(cluster, logs, "bob")
    alice.parley("contacts", "add", bob.username)
    bot = Peer(bob, ["answer", "--count", str(calls + 1)], logs, "bob-answer")
    results, failures, left_open, bot_rss, bot_hwm = [], [], 0, [], None
    try:
        bot.node(30)
        for number in range(calls + 1):
            since = bot.mark()
            bot_node = bot.last_node()
            caller = Peer(alice, ["call", f"@{bob.username}", "--duration", str(call_seconds)], logs, f"alice-call-{number}")
            meeting = None
            try:
                start = caller.spawned
                connected, _ = caller.wait("a connection", lambda k, v: k == "err" and "connected to node " in v, 30)
                node = caller.last_node()
                joined_at, joined = caller.event("joined", 30)
                meeting, conn = joined["meeting"], joined["conn"]
                ringing, _ = bot.event("ringing", 30, since, meeting=meeting)
                answered, answer = bot.event("joined", 30, since, meeting=meeting)
                bot_frame, _ = bot.event("first-frame", 30, since, conn=conn)
                caller_frame, frame = caller.event("first-frame", 30, conn=answer["conn"])
                # The bot's memory in each call, read while it runs (it exits once its last call ends).
                try:
                    bot_rss.append(memory_kib(bot.process.pid, "VmRSS"))
                    bot_hwm = memory_kib(bot.process.pid, "VmHWM")
                except (OSError, Failed):
                    raise Failed("the answering bot exited during the call")
                status = caller.finish(call_seconds + 30)
                if status != 0:
                    raise Failed(f"parley-peer call exited {status}")
                left_open += end_meeting(alice, meeting, bot, since)
                phases = {
                    "connected": connected, "joined": joined_at, "ringing": ringing, "answered": answered,
                    "answerer frame": bot_frame, "caller frame": caller_frame, "both": max(bot_frame, caller_frame),
                }
                result = {k: (v - start) * 1000 for k, v in phases.items()}
                result["caller afterMs"] = frame["afterMs"]
                result["crossed"] = node is not None and bot_node is not None and node != bot_node
                result["nodes"] = (node, bot_node)
                if number == 0:
                    print(f"warm-up call: {seconds(result['both'])}", flush=True)
                else:
                    results.append(result)
                    print(f"call {number}: both first frames {seconds(result['both'])} after the spawn, "
                          f"nodes {node} → {bot_node}", flush=True)
            except Failed as error:
                failures.append(str(error))
                print(f"call {number} failed: {error}", flush=True)
                caller.finish(0)
                if meeting:
                    try:
                        end_meeting(alice, meeting, bot, since)
                    except Failed as ending:
                        failures.append(str(ending))
                if bot.process.poll() is not None:
                    raise Failed(f"the answering bot exited {bot.process.returncode}")
            finally:
                caller.close()
            time.sleep(0.5)
        bot.finish(30)
    finally:
        bot.close()
    return {"calls": results, "failures": failures, "left_open": left_open, "bot_rss": bot_rss, "bot_hwm": bot_hwm}


def peer_cost(cluster, logs, window):
    """One call between two fresh parley-peers; each one's CPU over `window` seconds once both see video, and its
    peak RSS."""
    alice, bob = User(cluster, logs, "alice"), User(cluster, logs, "bob")
    alice.parley("contacts", "add", bob.username)
    bot = Peer(bob, ["answer", "--count", "1"], logs, "cost-answer")
    caller = None
    try:
        bot.node(30)
        # The duration counts from joining; the window starts once both see video, a second later.
        caller = Peer(alice, ["call", f"@{bob.username}", "--duration", str(window + 10)], logs, "cost-call")
        _, joined = caller.event("joined", 30)
        _, answer = bot.event("joined", 30, meeting=joined["meeting"])
        caller.event("first-frame", 30, conn=answer["conn"])
        bot.event("first-frame", 30, conn=joined["conn"])
        time.sleep(1)
        peers = {"caller (`call`)": caller, "answerer (`answer`)": bot}
        before = {name: (time.monotonic(), cpu_seconds(p.process.pid)) for name, p in peers.items()}
        time.sleep(window)
        after = {name: (time.monotonic(), cpu_seconds(p.process.pid)) for name, p in peers.items()}
        figures = {}
        for name, peer in peers.items():
            (t0, c0), (t1, c1) = before[name], after[name]
            stats = peer.stats(t0, t1)
            if len(stats) < 2:
                raise Failed(f"{peer.name}: too few stats lines in the window")
            (first_at, first), (last_at, last) = stats[0], stats[-1]
            # Each line's bitrates cover the second before it.
            lines = [s for _, s in stats[1:]]
            figures[name] = {
                "cpu": (c1 - c0) / (t1 - t0),
                "startup_cpu": c0,
                "hwm": memory_kib(peer.process.pid, "VmHWM"),
                "fps": (last["framesDecoded"] - first["framesDecoded"]) / (last_at - first_at),
                "kbps_in": sum(s["bitrateIn"] for s in lines) / len(lines) / 1000,
                "kbps_out": sum(s["bitrateOut"] for s in lines) / len(lines) / 1000,
            }
        if caller.process.poll() is not None:
            raise Failed("the caller left before the window ended: raise its --duration")
        status = caller.finish(window + 30)
        if status != 0:
            raise Failed(f"parley-peer call exited {status}")
        end_meeting(alice, joined["meeting"], bot, 0)
        bot.finish(30)
        return figures
    finally:
        if caller:
            caller.close()
        bot.close()


# MARK: Chromium

# Each page keeps, for the call of the moment, when its getStats() first counted a decoded inbound video frame
# (polled every 20 ms), and Bob's page accepts a ring the moment its prompt shows.
WATCH = """
const answer = arguments[0];
if (!window.benchWatch) {
  window.benchWatch = { frame: null, shown: null, busy: false };
  setInterval(async () => {
    const watch = window.benchWatch;
    if (watch.frame !== null || watch.busy || !window.parley.call) return;
    watch.busy = true;
    try {
      let frames = 0;
      for (const s of await window.parley.callStats()) if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
      if (frames > 0 && watch.frame === null) watch.frame = Date.now();
    } finally {
      watch.busy = false;
    }
  }, 20);
  if (answer) {
    const prompt = document.getElementById("incoming");
    new MutationObserver(() => {
      if (prompt.hidden) return;
      window.benchWatch.shown = Date.now();
      document.getElementById("accept-call").click();
    }).observe(prompt, { attributes: true, attributeFilter: ["hidden"] });
  }
}
window.benchWatch.frame = null;
window.benchWatch.shown = null;
"""


# The codec of the video a page receives, as getStats() names it (video/VP8, ...).
CODEC = """
const done = arguments[arguments.length - 1];
window.parley.callStats().then((stats) => {
  const byId = new Map(stats.map((s) => [s.id, s]));
  const video = stats.find((s) => s.type === "inbound-rtp" && s.kind === "video");
  done(byId.get(video?.codecId)?.mimeType ?? "unknown");
});
"""


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))


def until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # the page redraws as events arrive: elements go stale meanwhile
            pass
        time.sleep(0.05)
    raise Failed(f"no {what} within {timeout} s")


def sign_up(browser, url, username, name):
    from selenium.webdriver.common.by import By

    browser.get(url)
    until(lambda: browser.find_element(By.ID, "auth").is_displayed(), 30, "sign-in form")
    browser.find_element(By.ID, "to-sign-up").click()
    form = browser.find_element(By.ID, "sign-up-form")
    until(form.is_displayed, 30, "sign-up form")
    form.find_element(By.NAME, "username").send_keys(username)
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.ID, "sign-up").click()
    until(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-node"), 30, f"hello for {username}")


def browser_calls(cluster, calls):
    from selenium.webdriver.common.by import By

    alice, bob = chromium(), chromium()
    results, failures, codecs = [], [], set()
    try:
        suffix = uuid.uuid4().hex[:6]
        sign_up(alice, cluster.url("ws-1"), f"alice{suffix}", "Alice")
        sign_up(bob, cluster.url("ws-2"), f"bob{suffix}", "Bob")
        alice.find_element(By.ID, "search").send_keys(f"bob{suffix}")
        until(lambda: alice.find_element(By.CSS_SELECTOR, f"[data-add='bob{suffix}']").click() or True, 20, "Bob in the search")
        until(lambda: alice.find_element(By.ID, "room-title").text == "Bob", 20, "the room with Bob")
        for number in range(calls + 1):
            try:
                until(lambda: alice.find_element(By.ID, "call-button").is_displayed(), 20, "the call button")
                alice.execute_script(WATCH, False)
                bob.execute_script(WATCH, True)
                nodes = [b.find_element(By.TAG_NAME, "body").get_attribute("data-node") for b in (alice, bob)]
                clicked = alice.execute_script("const t = Date.now(); document.getElementById('call-button').click(); return t;")
                watches = until(
                    lambda: (lambda w: w if all(x["frame"] for x in w) else None)(
                        [b.execute_script("return window.benchWatch") for b in (alice, bob)]),
                    30, "decoded video in both pages")
                codecs.update(b.execute_async_script(CODEC) for b in (alice, bob))
                result = {
                    "shown": watches[1]["shown"] - clicked if watches[1]["shown"] else float("nan"),
                    "caller frame": watches[0]["frame"] - clicked, "answerer frame": watches[1]["frame"] - clicked,
                    "both": max(w["frame"] for w in watches) - clicked,
                    "crossed": nodes[0] != nodes[1] and None not in nodes, "nodes": nodes,
                }
                if number == 0:
                    print(f"warm-up call: {seconds(result['both'])}", flush=True)
                else:
                    results.append(result)
                    print(f"call {number}: both pages decoded video {seconds(result['both'])} after the click, "
                          f"nodes {nodes[0]} → {nodes[1]}", flush=True)
            except Failed as error:
                failures.append(str(error))
                print(f"browser call {number} failed: {error}", flush=True)
            finally:
                try:
                    alice.execute_script("const b = document.getElementById('end-call'); if (!b.hidden) b.click();")
                    for browser in (alice, bob):
                        until(lambda: not browser.find_element(By.ID, "call").is_displayed(), 20, "the end of the call")
                except Failed as error:
                    failures.append(str(error))
            time.sleep(0.5)
        version = alice.capabilities.get("browserVersion", "?")
    finally:
        alice.quit()
        bob.quit()
    return {"calls": results, "failures": failures, "version": version, "codecs": sorted(codecs)}


# MARK: BENCHMARKS.md


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 30)
    with open("/proc/sys/kernel/osrelease") as file:
        kernel = file.read().strip()
    return os.cpu_count(), model, memory, kernel


def commit():
    def git(*arguments):
        result = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return ""
    changed = git("status", "--porcelain", "--", "Sources", "Package.swift")
    return f", commit {head}" + (" with uncommitted changes to Sources/" if changed else "")


def package_version(name):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
    return result.stdout.split("-")[0] if result.returncode == 0 else "?"


def setup_rows(label, result, count):
    calls = result["calls"]
    both = [c["both"] for c in calls]
    crossed = sum(1 for c in calls if c["crossed"])
    failed = f" ({len(result['failures'])} failed)" if result["failures"] else ""
    return (f"| {label} | {len(calls)} of {count}{failed} | {crossed} | {seconds(percentile(both, 50))} | "
            f"{seconds(percentile(both, 99))} | {seconds(min(both) if both else None)} |")


def phase_rows(calls, phases):
    rows = []
    for key, words in phases:
        values = [c[key] for c in calls if not math.isnan(c[key])]
        rows.append(f"| {words} | {ms(percentile(values, 50))} | {ms(percentile(values, 99))} |")
    return rows


def markdown(options, peers, cost, browsers):
    cores, model, memory, kernel = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    versions = f"GStreamer {package_version('gstreamer1.0-plugins-bad')}"
    if browsers:
        versions = f"Chromium {browsers['version']}, " + versions
    lines = [
        f"Command: `{options.command}`, {now}{commit()}.",
        f"Machine: {cores} cores ({model}), {memory} GiB, Linux {kernel}; Parley and parley-peer built with "
        f"`swift build -c release`; {versions}.",
        "",
        f"Call set-up across WS nodes, {options.calls} calls one after another after an unrecorded first one, each "
        "ended before the next. parley-peer sends its test pattern, 640×360 at 30 fps in VP8, and Opus.",
        "",
        f"- *parley-peer ↔ parley-peer*: Bob is a bot, `parley-peer answer --count {options.calls + 1}`; for each "
        f"call Alice's `parley-peer call @bob --duration {options.call_seconds:g}` is spawned (both with "
        "`--ice-address 127.0.0.1 --stats --json`). Set-up runs from the spawn of Alice's process until both "
        "processes have printed `first-frame`, their first decoded video frame from the other, timed as each line "
        "arrives. Both reach HAProxy, which balances WebSockets by least connections, so Alice lands on the node "
        "Bob is not on; each process names its node on standard error. Alice leaves after her duration and the bot "
        "hangs up with her, which ends the meeting; the next call starts once the bot has printed `ended`"
        + ("." if not peers["left_open"] else
           f" (a meeting still open once Alice had left, as {peers['left_open']} of the {options.calls + 1} were, "
           "is ended over REST first)."),
    ]
    if browsers:
        lines.append(
            "- *Chromium ↔ Chromium*: two headless Chromium with the web client and a fake camera and microphone, "
            "Alice's page on ws-1 and Bob's on ws-2 (`?node=`). Set-up runs from Alice's click on Call until "
            "`getStats()` in both pages counts a decoded inbound video frame (each page polls every 20 ms); Bob's "
            "page accepts the ring the moment its prompt shows. Each call ends with End for all. The pages received "
            f"{' and '.join(browsers['codecs']) or 'an unknown codec'} (the web client asks its camera for 640×360).")
    lines += [
        "",
        f"With {options.calls} calls, p99 is the slowest of them. Everything shares the machine's {cores} cores: "
        f"all processes together kept them {peers['busy']:.0%} busy during the parley-peer calls"
        + (f" and {browsers['busy']:.0%} during the Chromium calls" if browsers else "")
        + f", against {peers['idle']:.0%} in 3 s before the first call, with the cluster idle.",
        "",
        "| attendees | calls | across nodes | p50 | p99 | fastest |",
        "|---|---|---|---|---|---|",
        setup_rows("parley-peer ↔ parley-peer", peers, options.calls),
    ]
    if browsers:
        lines.append(setup_rows("Chromium ↔ Chromium", browsers, options.calls))
    lines += [
        "",
        "Where a parley-peer call's set-up goes, from the spawn of Alice's process:",
        "",
        "| step | p50 | p99 |",
        "|---|---|---|",
        *phase_rows(peers["calls"], [
            ("connected", "Alice connected to her node (`hello`)"),
            ("ringing", "Bob's bot got the ring"),
            ("answered", "Bob's bot joined"),
            ("joined", "Alice joined (after starting the meeting, which rings)"),
            ("answerer frame", "Bob's first decoded frame"),
            ("caller frame", "Alice's first decoded frame"),
            ("both", "both"),
            ("caller afterMs", "Alice's own `afterMs` (from her start, after parsing and sign-in)"),
        ]),
    ]
    if browsers:
        lines += [
            "",
            "And a Chromium call's, from Alice's click:",
            "",
            "| step | p50 | p99 |",
            "|---|---|---|",
            *phase_rows(browsers["calls"], [
                ("shown", "Bob's page showed the ring (and accepted)"),
                ("answerer frame", "Bob's page decoded a frame"),
                ("caller frame", "Alice's page decoded a frame"),
                ("both", "both"),
            ]),
        ]
    if cost:
        lines += [
            "",
            f"What one parley-peer costs in a call: two fresh parley-peers in one call (the test pattern above, "
            f"with `--stats`), CPU (user and system, from `/proc/PID/stat`) over {options.seconds} s that start a "
            "second after both decoded their first frame, and the peak resident set (`VmHWM`) at its end; "
            "start-up is the CPU spent before that window.",
            "",
            "| parley-peer | CPU per second of call | start-up CPU | peak RSS | video received | in | out |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, figures in cost.items():
            lines.append(
                f"| {name} | {figures['cpu']:.3f} s ({figures['cpu'] * 100:.1f}% of a core) | {figures['startup_cpu']:.2f} s | "
                f"{mib(figures['hwm'])} | {figures['fps']:.1f} frames/s | {figures['kbps_in']:.0f} kbit/s | "
                f"{figures['kbps_out']:.0f} kbit/s |")
    if peers["bot_rss"]:
        rss = peers["bot_rss"]
        lines += [
            "",
            f"Bob's bot over its {len(rss)} calls, read once both saw video: resident {mib(rss[0])} in the first, "
            f"{mib(rss[len(rss) // 2])} in the middle one and {mib(rss[-1])} in the last"
            + (f", peak {mib(peers['bot_hwm'])}" if peers.get("bot_hwm") else "") + ".",
        ]
    failures = peers["failures"] + (browsers["failures"] if browsers else [])
    if failures:
        lines += ["", "Calls that failed: " + "; ".join(failures) + "."]
    return "\n".join(lines)


def write_section(path, body, scenario="calls"):
    """BENCHMARKS.md's text with the scenario's section replaced, or added after the other scenarios' sections."""
    begin, end = f"<!-- bench:{scenario} -->", f"<!-- /bench:{scenario} -->"
    section = f"{begin}\n## {scenario}\n\n{body}\n{end}"
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    start = text.find(begin)
    stop = text.find(end, start + 1) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        text = text[:start] + section + text[stop + len(end):]
    else:
        # After the other scenarios' sections, before the notes that follow them.
        closes = list(re.finditer(r"<!-- /bench:[a-z]+ -->\n", text))
        at = closes[-1].end() if closes else len(text)
        text = text[:at] + "\n" + section + "\n" + text[at:]
    return text


def save(path, text):
    """Writes BENCHMARKS.md whole or not at all."""
    with open(path + ".tmp", "w") as file:
        file.write(text)
    os.replace(path + ".tmp", path)


def update_targets(text, figure, met, scenario="calls", target=TARGET):
    """The scenario's row (`target`) in the targets table of this machine's CPU, and its run named in that table's
    lead."""
    cores, model, memory, kernel = machine()
    short = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*$|\d+-Core", "", model)
    short = " ".join(short.split())
    lines = text.split("\n")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = re.search(r"commit (\w+)", commit())
    sentence = f"{scenario.title()}: the recorded run of {when}, code of {head.group(1) if head else 'an unknown commit'}."
    lead = next((i for i, line in enumerate(lines) if line.startswith(f"**{cores} cores of a") and short in line), None)
    row = f"| {target} | {figure} | {met} |"
    if lead is None:
        kernel_short = ".".join(kernel.split(".")[:2])
        block = [f"**{cores} cores of {'an' if short[:1] in 'AEIOU' else 'a'} {short}, {memory} GiB, Linux {kernel_short}.** {sentence}",
                 "", "| target | figure | met |", "|---|---|---|", row, ""]
        at = next((i for i, line in enumerate(lines) if line.startswith('"Close to the bare floor"')), None)
        at = at if at is not None else next((i for i, line in enumerate(lines) if line.startswith("## ") and i > 0), len(lines))
        return "\n".join(lines[:at] + block + lines[at:])
    # The lead paragraph runs from its first line to the blank line before the table.
    stop = lead
    while stop < len(lines) and lines[stop].strip():
        stop += 1
    paragraph = " ".join(lines[lead:stop])
    paragraph = re.sub(rf"\s*{scenario.title()}: the recorded run of [^.]*?, code of [^.]*\.", "", paragraph).rstrip() + " " + sentence
    wrapped = textwrap.wrap(paragraph, width=117, break_long_words=False, break_on_hyphens=False)
    lines[lead:stop] = wrapped
    # The table after it: replace the row, or add it at the end.
    start = lead + len(wrapped)
    while start < len(lines) and not lines[start].startswith("|"):
        start += 1
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    for i in range(start, end):
        if lines[i].startswith(f"| {target} |"):
            lines[i] = row
            break
    else:
        lines.insert(end, row)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="Call set-up across nodes and parley-peer's cost; figures go to BENCHMARKS.md.")
    parser.add_argument("--cluster", default=os.environ.get("PARLEY_CLUSTER_DIR", os.path.join(ROOT, ".cluster")))
    parser.add_argument("--command", default="bench/calls.py")
    parser.add_argument("--calls", type=int, default=20, help="recorded calls of each kind, after an unrecorded one")
    parser.add_argument("--call-seconds", type=float, default=3, help="how long each parley-peer call lasts (--duration)")
    parser.add_argument("--seconds", type=int, default=20, help="the window over which one call's CPU is measured")
    parser.add_argument("--no-browsers", action="store_true", help="skip the Chromium calls")
    parser.add_argument("--dry-run", action="store_true", help="print the figures only")
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    options = parser.parse_args()
    if options.calls < 1 or options.seconds < 1 or options.call_seconds <= 0:
        parser.error("--calls, --seconds and --call-seconds must be positive")

    cluster = Cluster(options.cluster)
    logs = os.path.join(options.cluster, "calls")
    os.makedirs(logs, exist_ok=True)
    # What else keeps the machine busy: the cluster idles meanwhile, so this is mostly other work.
    busy = Busy()
    time.sleep(3)
    idle = busy.fraction()
    print(f"==> before the calls, with the cluster idle, the cores were {idle:.0%} busy", flush=True)
    print(f"==> {options.calls} parley-peer calls across nodes (and one unrecorded)", flush=True)
    busy = Busy()
    peers = peer_calls(cluster, logs, options.calls, options.call_seconds)
    peers["busy"] = busy.fraction()
    print(f"bob's bot, resident in each call: {', '.join(mib(k) for k in peers['bot_rss'])}", flush=True)
    print(f"==> one parley-peer call's CPU over {options.seconds} s and peak RSS", flush=True)
    cost = peer_cost(cluster, logs, options.seconds)
    browsers = None
    if not options.no_browsers:
        print(f"==> {options.calls} Chromium calls across nodes (and one unrecorded)", flush=True)
        busy = Busy()
        browsers = browser_calls(cluster, options.calls)
        browsers["busy"] = busy.fraction()
    peers["idle"] = idle

    body = markdown(options, peers, cost, browsers)
    print(body)
    both = [c["both"] for c in peers["calls"]]
    if len(both) < options.calls // 2:
        print(f"only {len(both)} of {options.calls} parley-peer calls set up: nothing written", file=sys.stderr)
        return 1
    p50 = percentile(both, 50) / 1000
    crossed = sum(1 for c in peers["calls"] if c["crossed"])
    figure = f"{p50:.2f} s"
    print(f"target: {TARGET}: {figure} ({crossed} of {len(both)} calls across nodes)")
    if options.dry_run:
        return 0
    text = write_section(options.output, body)
    text = update_targets(text, figure, "yes" if p50 < TARGET_SECONDS else "no")
    save(options.output, text)
    print(f"wrote the calls figures to {options.output}")
    return 0 if not peers["failures"] and not (browsers and browsers["failures"]) else 1


if __name__ == "__main__":
    sys.exit(main())
