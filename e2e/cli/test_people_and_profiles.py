"""People, groups and profiles from a terminal: finding users, signing out here or everywhere, adding, removing and
promoting group members, which server and which profile a command uses (flag, environment, the profile's own
server, the default), following two rooms at once, and typing shown both ways in `parley chat`."""

import contextlib
import http.server
import json
import os
import stat
import tempfile
import threading
import urllib.request
import uuid

from conftest import PASSWORD, TerminalSession, User, new_user

# A URL no test's command may reach: were it used, the command would fail (or name it), not do what is asserted.
ELSEWHERE = "http://127.0.0.1:9"


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def credentials(user, profile="default"):
    with open(os.path.join(user.folder, "parley", f"{profile}.json")) as file:
        return json.load(file)


def room_detail(cluster, user, room):
    """`GET /api/rooms/{room}` over REST with the user's stored access token: the room as the server keeps it."""
    request = urllib.request.Request(
        f"{cluster.base_url}/api/rooms/{room}", headers={"Authorization": f"Bearer {credentials(user)['session']['accessToken']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def roles(detail):
    return {m["user"]["username"]: m["role"] for m in detail["members"]}


def room_ids(user):
    return {r["id"] for r in lines(user.ok("rooms", "--json"))}


def in_environment(user, **changes):
    """A copy of `user` whose environment has `changes`; a value of None removes the variable."""
    other = User.__new__(User)
    other.username, other.folder = user.username, user.folder
    other.environment = {k: v for k, v in {**user.environment, **changes}.items() if v is not None}
    return other


# `parley users QUERY`


def test_users_finds_people_by_part_of_their_username_or_name(cluster, alice):
    tag = uuid.uuid4().hex[:8]
    username, name = f"quill{tag}", f"Quentin Marsh{tag}"
    quill = User(cluster, tempfile.mkdtemp(prefix="parley-cli-quill-"), username)
    quill.ok("register", username, "--name", name, "--password-stdin", input=PASSWORD + "\n")

    # Part of the username: its random middle.
    assert alice.ok("users", username[3:10]).splitlines() == [f"{username}\t{name}"]
    # Part of the name, in another case than it was given.
    found = lines(alice.ok("users", f"MARSH{tag}", "--json"))
    assert [(u["username"], u["name"]) for u in found] == [(username, name)] and found[0]["id"]
    # The id is the one the user has.
    assert json.loads(quill.ok("whoami", "--json"))["id"] == found[0]["id"]
    # Nobody matches: nothing printed, and no error.
    assert alice.ok("users", f"nobody{uuid.uuid4().hex}") == ""


def test_users_sends_an_ampersand_in_the_query_as_part_of_it(cluster, alice):
    tag = uuid.uuid4().hex[:8]
    firm, brothers = f"Smith{tag} & Co", f"Smith{tag} Brothers"
    for name in (firm, brothers):
        username = f"smith{uuid.uuid4().hex[:8]}"
        User(cluster, tempfile.mkdtemp(prefix="parley-cli-smith-"), username).ok(
            "register", username, "--name", name, "--password-stdin", input=PASSWORD + "\n")
    # Cut at the "&", the query would be "{tag} ", which both names hold.
    assert [u["name"] for u in lines(alice.ok("users", f"{tag} & co", "--json"))] == [firm]
    alone = alice.run("users", "&")
    assert alone.returncode == 0 and "invalid_field" not in alone.stderr, alone.stderr


# `parley logout`, here or everywhere


def test_logout_everywhere_ends_the_other_profiles_session_and_its_tail(cluster, alice):
    room = json.loads(alice.ok("group", "create", f"solo-{alice.username}", "--json"))["room"]["id"]
    alice.ok("login", alice.username, "--profile", "laptop", "--password-stdin", input=PASSWORD + "\n")
    laptop_tail = alice.start("tail", room, "--profile", "laptop")
    try:
        laptop_tail.stderr_until(lambda line: "following" in line)
        assert alice.ok("logout", "--everywhere").strip() == "Signed out everywhere."
        assert not os.path.exists(os.path.join(alice.folder, "parley", "default.json"))

        # The laptop's credentials are still on disk, but their session is over: renewing them is refused too.
        result = alice.run("whoami", "--profile", "laptop")
        assert result.returncode == 1 and "session has expired" in result.stderr and "parley login" in result.stderr, result.stderr
        # And its tail is told so, and ends.
        laptop_tail.stderr_until(lambda line: "signed out" in line)
        assert laptop_tail.process.wait(timeout=20) == 1
    finally:
        if laptop_tail.process.poll() is None:
            laptop_tail.stop()
    # Signing in again works.
    alice.ok("login", alice.username, "--password-stdin", input=PASSWORD + "\n")
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username


def test_plain_logout_leaves_the_other_profiles_session_and_tail_working(cluster, alice):
    room = json.loads(alice.ok("group", "create", f"solo-{alice.username}", "--json"))["room"]["id"]
    alice.ok("login", alice.username, "--profile", "laptop", "--password-stdin", input=PASSWORD + "\n")
    laptop_tail = alice.start("tail", room, "--profile", "laptop", "--json")
    try:
        laptop_tail.stderr_until(lambda line: "following" in line)
        assert alice.ok("logout").strip() == "Signed out."
        assert "not logged in" in alice.run("whoami").stderr
        assert os.path.exists(os.path.join(alice.folder, "parley", "laptop.json"))

        assert json.loads(alice.ok("whoami", "--profile", "laptop", "--json"))["username"] == alice.username
        # A renewal of the laptop's tokens is not refused either.
        path = os.path.join(alice.folder, "parley", "laptop.json")
        stored = credentials(alice, "laptop")
        stored["session"]["accessToken"] = "expired"
        with open(path, "w") as file:
            json.dump(stored, file)
        seq = json.loads(alice.ok("send", room, "still here", "--profile", "laptop", "--json"))["seq"]
        # The laptop's tail was not closed: it prints what comes after the other profile's logout.
        got = json.loads(laptop_tail.line(laptop_tail.stdout))
        assert (got["seq"], got["text"], got["room"]) == (seq, "still here", room)
        assert laptop_tail.process.poll() is None
    finally:
        laptop_tail.stop()


# `parley group add|remove|role`


def test_group_add_lets_the_added_user_see_the_group_and_send_to_it_and_remove_ends_that(cluster, alice, bob):
    name = f"crew-{alice.username}"
    room = json.loads(alice.ok("group", "create", name, "--json"))["room"]["id"]
    assert room not in room_ids(bob)
    assert bob.run("send", room, "let me in").returncode == 1

    added = json.loads(alice.ok("group", "add", name, bob.username, "--json"))
    assert added["user"]["username"] == bob.username and added["role"] == "member"
    assert roles(room_detail(cluster, alice, room)) == {alice.username: "owner", bob.username: "member"}
    listed = [r for r in lines(bob.ok("rooms", "--json")) if r["id"] == room]
    assert len(listed) == 1 and listed[0]["kind"] == "group" and listed[0]["name"] == name
    assert f"{room}\tgroup\t{name}\t" in bob.ok("rooms")
    # By the group's name, as the added user knows it now.
    seq = json.loads(bob.ok("send", name, "glad to be here", "--json"))["seq"]
    assert [(m["seq"], m["username"], m["text"]) for m in lines(alice.ok("history", name, "--json"))] == [(seq, bob.username, "glad to be here")]

    assert alice.ok("group", "remove", name, bob.username).strip() == f"Removed {bob.username}."
    assert roles(room_detail(cluster, alice, room)) == {alice.username: "owner"}
    assert room not in room_ids(bob)
    gone = bob.run("send", room, "still here?")
    assert gone.returncode == 1 and ("forbidden" in gone.stderr or "not_found" in gone.stderr), gone.stderr


def test_group_role_admin_lets_a_member_add_and_remove_others(cluster, alice, bob):
    carol = new_user(cluster, "carol")
    name = f"crew-{alice.username}"
    room = json.loads(alice.ok("group", "create", name, "--member", bob.username, "--json"))["room"]["id"]
    # A plain member adds nobody.
    refused = bob.run("group", "add", name, carol.username)
    assert refused.returncode == 1 and "forbidden" in refused.stderr, refused.stderr
    assert room not in room_ids(carol)

    assert alice.ok("group", "role", name, bob.username, "admin").strip() == f"{bob.username} is now admin."
    assert roles(room_detail(cluster, alice, room)) == {alice.username: "owner", bob.username: "admin"}
    assert roles(room_detail(cluster, bob, room))[bob.username] == "admin"

    # As an admin Bob adds members, though not admins: that is the owner's.
    only_owner = bob.run("group", "add", name, carol.username, "--role", "admin")
    assert only_owner.returncode == 1 and "forbidden" in only_owner.stderr, only_owner.stderr
    assert json.loads(bob.ok("group", "add", name, carol.username, "--json"))["role"] == "member"
    assert room in room_ids(carol)
    carol.ok("send", name, "hello crew")
    assert bob.ok("group", "remove", name, carol.username).strip() == f"Removed {carol.username}."
    assert room not in room_ids(carol)

    # And back to member, with --json: the room as it is now.
    detail = json.loads(alice.ok("group", "role", room, bob.username, "member", "--json"))
    assert roles(detail) == {alice.username: "owner", bob.username: "member"} == roles(room_detail(cluster, alice, room))
    assert bob.run("group", "add", name, carol.username).returncode == 1


# Which server, which profile, which folder


def test_server_flag_beats_parley_server_which_beats_the_profiles_server(cluster, alice):
    flagged = in_environment(alice, PARLEY_SERVER=ELSEWHERE)
    # The flag wins over the environment: the profile's own server, named on the command line, is used.
    assert json.loads(flagged.ok("whoami", "--server", cluster.base_url, "--json"))["username"] == alice.username
    # The environment wins over the profile's server: the profile was signed in elsewhere, and the command says so.
    wrong = flagged.run("whoami")
    assert wrong.returncode == 1 and f"signed in to {cluster.base_url}, not {ELSEWHERE}" in wrong.stderr, wrong.stderr
    # And the flag over a right environment.
    wrong = alice.run("whoami", "--server", ELSEWHERE)
    assert wrong.returncode == 1 and f"signed in to {cluster.base_url}, not {ELSEWHERE}" in wrong.stderr, wrong.stderr
    # A login goes to the flag's server, not the environment's.
    flagged.ok("login", alice.username, "--server", cluster.base_url, "--password-stdin", input=PASSWORD + "\n")
    assert credentials(alice)["server"] == cluster.base_url


def test_without_a_server_named_the_profiles_server_is_used(cluster, alice):
    unnamed = in_environment(alice, PARLEY_SERVER=None)
    assert unnamed.ok("whoami").strip() == f"{alice.username} (Alice) on {cluster.base_url}, profile default"
    unnamed.ok("send", json.loads(unnamed.ok("group", "create", f"g-{alice.username}", "--json"))["room"]["id"], "hi")
    # An empty PARLEY_SERVER names no server either.
    assert in_environment(alice, PARLEY_SERVER="").ok("whoami").strip().endswith(f"on {cluster.base_url}, profile default")
    # A login again, too, goes to the server the profile was signed in to.
    out = unnamed.ok("login", alice.username, "--password-stdin", input=PASSWORD + "\n")
    assert out.strip() == f"Signed in as {alice.username} on {cluster.base_url}."


class FakeParley(http.server.BaseHTTPRequestHandler):
    """Answers `POST /api/auth/login` as Parley would, and keeps what was asked."""

    asked: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeParley.asked.append((self.path, self.headers["Host"], body["username"]))
        answer = json.dumps({"user": {"id": "u_fake", "username": body["username"], "name": "Fake"}, "accessToken": "a",
                             "refreshToken": "r", "expiresIn": 900}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *arguments):
        pass


@contextlib.contextmanager
def serving_on_localhost_8080():
    FakeParley.asked = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 8080), FakeParley)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield FakeParley.asked
    finally:
        server.shutdown()
        server.server_close()


def test_without_any_server_the_default_is_http_localhost_8080(tmp_path):
    # Nothing in the environment, no profile yet: only the default is left. The suite runs in a network namespace
    # of its own, where port 8080 is free for a stand-in that answers the login.
    nowhere = User.__new__(User)
    nowhere.username, nowhere.folder = "dora", str(tmp_path / ".config")
    nowhere.environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARLEY_") and k != "XDG_CONFIG_HOME"}, "HOME": str(tmp_path)}
    with serving_on_localhost_8080() as asked:
        out = nowhere.ok("login", "dora", "--password-stdin", input=PASSWORD + "\n")
    assert asked == [("/api/auth/login", "localhost:8080", "dora")]
    assert out.strip() == "Signed in as dora on http://localhost:8080."
    assert credentials(nowhere)["server"] == "http://localhost:8080"


def test_parley_profile_picks_the_profile_as_the_flag_does_and_the_flag_wins(cluster, alice, bob):
    as_work = in_environment(alice, PARLEY_PROFILE="work")
    as_work.ok("login", bob.username, "--password-stdin", input=PASSWORD + "\n")
    assert os.path.exists(os.path.join(alice.folder, "parley", "work.json"))
    assert credentials(alice)["session"]["user"]["username"] == alice.username
    assert json.loads(as_work.ok("whoami", "--json"))["username"] == bob.username
    assert as_work.ok("whoami").strip().endswith("profile work")
    assert json.loads(alice.ok("whoami", "--profile", "work", "--json"))["username"] == bob.username
    assert json.loads(as_work.ok("whoami", "--profile", "default", "--json"))["username"] == alice.username
    # An empty PARLEY_PROFILE is no profile named: the default.
    assert json.loads(in_environment(alice, PARLEY_PROFILE="").ok("whoami", "--json"))["username"] == alice.username
    as_work.ok("logout")
    assert not os.path.exists(os.path.join(alice.folder, "parley", "work.json"))
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username


def test_without_xdg_config_home_credentials_go_to_home_dot_config_parley(cluster, alice, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    homed = in_environment(alice, XDG_CONFIG_HOME=None, HOME=str(home))
    homed.ok("login", alice.username, "--password-stdin", input=PASSWORD + "\n")
    folder = home / ".config" / "parley"
    assert stat.S_IMODE(os.stat(folder / "default.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    with open(folder / "default.json") as file:
        assert json.load(file)["server"] == cluster.base_url
    assert json.loads(homed.ok("whoami", "--json"))["username"] == alice.username
    # A relative XDG_CONFIG_HOME is no config folder (XDG says to ignore it): $HOME's is used still.
    relative = in_environment(homed, XDG_CONFIG_HOME="relative/config")
    assert json.loads(relative.ok("whoami", "--json"))["username"] == alice.username
    homed.ok("logout")
    assert not (folder / "default.json").exists()
    # Alice's XDG folder was never touched: she is still signed in there.
    assert json.loads(alice.ok("whoami", "--json"))["username"] == alice.username


# `parley tail ROOM1 ROOM2`


def test_tail_follows_two_rooms_at_once(cluster, pair):
    alice, bob, direct = pair
    name = f"both-{alice.username}"
    group = json.loads(alice.ok("group", "create", name, "--member", bob.username, "--json"))["room"]["id"]
    tail = bob.start("tail", f"@{alice.username}", name, "--json")
    try:
        following = tail.stderr_until(lambda line: "following" in line)
        assert f"@{alice.username}" in following and name in following
        sent = []
        for n in range(4):
            for room in (direct, group):
                message = json.loads(alice.ok("send", room, f"{room[-4:]} {n}", "--json"))
                sent.append((message["room"], message["seq"], message["text"]))
        got = [json.loads(tail.line(tail.stdout)) for _ in sent]
        assert sorted((m["room"], m["seq"], m["text"]) for m in got) == sorted(sent)
        for room in (direct, group):
            assert [m["seq"] for m in got if m["room"] == room] == [seq for r, seq, _ in sent if r == room]
        assert all(m["username"] == alice.username for m in got)
        assert sorted(seq for _, seq, _ in sent) == [1, 1, 2, 2, 3, 3, 4, 4]
    finally:
        tail.stop()
    # Without --json, too: both rooms' messages, as people read them.
    alice.ok("send", direct, "to the pair")
    alice.ok("send", group, "to the group")
    # From after the four of each above (both rooms' seqs ran 1 to 4): the two sent since, then what comes.
    human = bob.start("tail", direct, group, "--since", "4")
    try:
        human.stderr_until(lambda line: "following" in line)
        alice.ok("send", direct, "direct again")
        alice.ok("send", group, "group again")
        printed = [human.line(human.stdout) for _ in range(4)]
        for text in ("to the pair", "to the group", "direct again", "group again"):
            assert any(line.endswith(f"{alice.username}: {text}") for line in printed), printed
    finally:
        human.stop()


# `parley chat`: typing, the other way round


def test_chat_shows_the_second_users_typing_to_the_first_and_nobody_their_own(pair):
    alice, bob, room = pair
    alice_chat = TerminalSession(alice, "chat", "@" + bob.username)
    bob_chat = TerminalSession(bob, "chat", room)
    try:
        alice_chat.expect("· in ")
        bob_chat.expect("· in ")

        alice_chat.type("a")
        bob_chat.expect(f"· {alice.username} is typing")
        bob_chat.type("hi ")
        alice_chat.expect(f"· {bob.username} is typing")
        bob_chat.type("Alice\r")
        alice_chat.expect(f"{bob.username}: hi Alice")
        bob_chat.expect(f"· {alice.username} has read up to #1")
        # Each saw the other type, and neither their own typing.
        assert f"{alice.username} is typing" not in alice_chat.screen
        assert f"{bob.username} is typing" not in bob_chat.screen

        # Her "a" erased, Ctrl-D on the empty line leaves.
        alice_chat.type("\x7f\x04")
        assert alice_chat.exit_status() == 0
        bob_chat.type("/quit\r")
        assert bob_chat.exit_status() == 0
    finally:
        for chat in (alice_chat, bob_chat):
            if chat.process.poll() is None:
                chat.process.kill()
