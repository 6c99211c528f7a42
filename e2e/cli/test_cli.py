"""Two people chatting with the `parley` client commands: identity, contacts, sending, history, following a room
live across a WS node's SIGKILL, the --json shape and the exit statuses."""

import json
import os
import stat
import tempfile
import time

from conftest import PASSWORD, User


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_register_login_whoami_logout(alice):
    credentials = os.path.join(alice.folder, "parley", "default.json")
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username
    alice.ok("logout")
    assert not os.path.exists(credentials)
    result = alice.run("whoami")
    assert result.returncode == 1 and "parley login" in result.stderr
    wrong = alice.run("login", alice.username, "--password-stdin", input="not the password\n")
    assert wrong.returncode == 1 and "unauthorized" in wrong.stderr
    alice.ok("login", alice.username, "--password-stdin", input=PASSWORD + "\n")
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert alice.username in alice.ok("whoami")


def test_profiles_keep_identities_apart(cluster, alice, bob):
    # Bob signs in a second profile in Alice's config folder: the two identities live side by side.
    bob.ok("logout")
    bob_there = User(cluster, alice.folder, bob.username)
    bob_there.ok("login", bob.username, "--profile", "bob", "--password-stdin", input=PASSWORD + "\n")
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username
    assert json.loads(alice.ok("whoami", "--profile", "bob", "--json"))["username"] == bob.username
    assert stat.S_IMODE(os.stat(os.path.join(alice.folder, "parley", "bob.json")).st_mode) == 0o600


def test_contacts_send_history(pair):
    alice, bob, room = pair
    assert [c["user"]["username"] for c in lines(bob.ok("contacts", "--json"))] == [alice.username]
    sent = json.loads(alice.ok("send", f"@{bob.username}", "hello Bob", "--json"))
    assert set(sent) >= {"room", "seq", "sender", "text", "sentAt"} and sent["room"] == room and sent["text"] == "hello Bob"
    piped = json.loads(bob.ok("send", room, "--json", input="hello Alice\n"))
    assert piped["seq"] == sent["seq"] + 1 and piped["text"] == "hello Alice"
    assert alice.ok("send", room, "third").strip() == f"sent #{sent['seq'] + 2}"
    history = lines(alice.ok("history", room, "--json"))
    assert [(m["seq"], m["text"], m["username"]) for m in history] == [
        (sent["seq"], "hello Bob", alice.username), (sent["seq"] + 1, "hello Alice", bob.username), (sent["seq"] + 2, "third", alice.username)]
    assert [m["text"] for m in lines(bob.ok("history", f"@{alice.username}", "--before", str(sent["seq"] + 2), "--limit", "1", "--json"))] == ["hello Alice"]
    assert "hello Bob" in bob.ok("history", f"@{alice.username}")
    assert any(r["id"] == room for r in lines(bob.ok("rooms", "--json")))


def test_groups_by_name(alice, bob):
    name = f"team-{alice.username}"
    created = json.loads(alice.ok("group", "create", name, "--member", bob.username, "--json"))
    assert {m["user"]["username"] for m in created["members"]} == {alice.username, bob.username}
    seq = json.loads(bob.ok("send", name, "hi team", "--json"))["seq"]
    assert [m["text"] for m in lines(alice.ok("history", name, "--json"))][-1] == "hi team" and seq == 1
    alice.ok("group", "role", name, bob.username, "admin")
    alice.ok("group", "remove", name, bob.username)
    assert bob.run("send", created["room"]["id"], "still here?").returncode == 1


def test_exit_statuses(cluster, alice):
    unknown = alice.run("send", "no-such-room", "hello")
    assert unknown.returncode == 1 and ("not_found" in unknown.stderr or "forbidden" in unknown.stderr), unknown.stderr
    assert alice.run("send").returncode == 2
    assert alice.run("history", "x", "--limit", "0").returncode == 2
    stranger = User(cluster, tempfile.mkdtemp(prefix="parley-cli-nobody-"), "nobody")
    nobody = stranger.run("rooms")
    assert nobody.returncode == 1 and "not logged in" in nobody.stderr


def test_refused_refresh_asks_to_log_in_again(alice):
    path = os.path.join(alice.folder, "parley", "default.json")
    with open(path) as file:
        stored = json.load(file)
    stored["session"]["accessToken"] = "expired"
    stored["session"]["refreshToken"] = "revoked"
    with open(path, "w") as file:
        json.dump(stored, file)
    result = alice.run("rooms")
    assert result.returncode == 1 and "session has expired" in result.stderr and "login" in result.stderr


def test_access_token_renewed_on_401(alice):
    path = os.path.join(alice.folder, "parley", "default.json")
    with open(path) as file:
        stored = json.load(file)
    stored["session"]["accessToken"] = "expired"
    with open(path, "w") as file:
        json.dump(stored, file)
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username
    with open(path) as file:
        assert json.load(file)["session"]["accessToken"] != "expired"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def seen(path):
    """The last seq per room that a profile's tail printed, as it keeps them."""
    try:
        with open(path) as file:
            return json.load(file)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def test_tail_prints_the_other_users_messages_in_order(pair):
    alice, bob, room = pair
    alice.ok("send", room, "before the tail")
    tail = bob.start("tail", f"@{alice.username}", "--json")
    try:
        tail.stderr_until(lambda line: "following" in line)
        sent = [json.loads(alice.ok("send", room, f"message {n}", "--json"))["seq"] for n in range(15)]
        got = [json.loads(tail.line(tail.stdout)) for _ in sent]
        assert [m["seq"] for m in got] == sent and [m["text"] for m in got] == [f"message {n}" for n in range(15)]
        assert all(m["room"] == room and m["username"] == alice.username and "sentAt" in m for m in got)
        # A message is recorded as seen just after it is printed: the kill below comes once the last one is.
        cursors = os.path.join(bob.folder, "parley", "default.tail.json")
        deadline = time.monotonic() + 10
        while seen(cursors).get(room) != sent[-1]:
            assert time.monotonic() < deadline, f"tail never recorded #{sent[-1]} as seen: {seen(cursors)}"
            time.sleep(0.05)
    finally:
        tail.stop()
    # The next tail starts where this one stopped: only what came since.
    alice.ok("send", room, "while away")
    again = bob.start("tail", room, "--json")
    try:
        assert json.loads(again.line(again.stdout))["text"] == "while away"
    finally:
        again.stop()


def test_tail_keeps_every_message_across_a_killed_ws_node(cluster, pair):
    alice, bob, room = pair
    tail = bob.start("tail", room, "--json", "--since", "0")
    try:
        node = tail.stderr_until(lambda line: "on node" in line).split("on node ")[-1].strip()
        texts = [f"m{n}" for n in range(30)]
        for text in texts[:10]:
            alice.ok("send", room, text)
        cluster.run("kill", node)
        for text in texts[10:]:
            alice.ok("send", room, text)
        got = [json.loads(tail.line(tail.stdout, timeout=30)) for _ in texts]
        assert [m["text"] for m in got] == texts
        assert [m["seq"] for m in got] == list(range(1, 31))
        tail.stderr_until(lambda line: "on node" in line and node not in line)
    finally:
        tail.stop()
        cluster.run("restart", node)
