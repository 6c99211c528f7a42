"""Replies, edits, reactions, search, mentions and calls in the timeline, from a terminal: what one person does with
`parley send --reply-to`, `edit`, `react` and `search`, the other sees in `parley history`, and a call's start and
end are there too."""

import json
import urllib.request

from conftest import new_user


def fails(user, *arguments):
    """What `parley ARGUMENTS` says on standard error as it fails with status 1."""
    result = user.run(*arguments)
    assert result.returncode == 1, f"parley {' '.join(arguments)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stderr


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def rest(cluster, user, method, path, body=None):
    """A REST call with the user's stored access token, for what the CLI has no command for (starting a call)."""
    with open(f"{user.folder}/parley/default.json") as file:
        token = json.load(file)["session"]["accessToken"]
    request = urllib.request.Request(
        f"{cluster.base_url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
        return json.loads(payload) if payload else None


def test_reply_edit_react_show_in_history(pair):
    alice, bob, room = pair
    question = json.loads(alice.ok("send", room, "Lunch at noon?", "--json"))
    answer = json.loads(bob.ok("send", room, "Yes, see you there", "--reply-to", str(question["seq"]), "--json"))
    assert answer["replyTo"] == question["seq"]
    assert answer["quoted"] == {"sender": question["sender"], "snippet": "Lunch at noon?"}

    edited = json.loads(alice.ok("edit", room, str(question["seq"]), "Lunch at one?", "--json"))
    assert edited["text"] == "Lunch at one?" and "editedAt" in edited
    assert "only its sender" in fails(bob, "edit", room, str(question["seq"]), "Lunch at two?")

    assert bob.ok("react", room, str(question["seq"]), "👍").strip() == f"reacted 👍 on #{question['seq']}"
    alice.ok("react", room, str(question["seq"]), "👍")
    alice.ok("react", room, str(question["seq"]), "🎉")
    alice.ok("react", room, str(question["seq"]), "🎉", "--remove")
    assert "must be one emoji" in fails(bob, "react", room, str(question["seq"]), "ok")

    history = {m["seq"]: m for m in lines(bob.ok("history", room, "--json"))}
    first = history[question["seq"]]
    assert first["text"] == "Lunch at one?" and "editedAt" in first
    assert first["reactions"] == [{"emoji": "👍", "count": 2, "users": [answer["sender"], question["sender"]]}]
    assert history[answer["seq"]]["quoted"]["snippet"] == "Lunch at one?"
    human = bob.ok("history", room)
    assert f"#{question['seq']} " in human and "Lunch at one? (edited)  [👍 2]" in human
    assert f"(reply to #{question['seq']}) Yes, see you there" in human


def test_search_finds_words_in_my_rooms_only(cluster, pair):
    alice, bob, room = pair
    alice.ok("send", room, "The quarterly report is ready")
    gone = json.loads(alice.ok("send", room, "quarterly draft, ignore", "--json"))
    rest(cluster, alice, "DELETE", f"/api/rooms/{room}/messages/{gone['seq']}")
    found = lines(bob.ok("search", "QUART rep", "--json"))
    assert [m["text"] for m in found] == ["The quarterly report is ready"]
    assert "The quarterly report is ready" in bob.ok("search", "quarterly", "--room", f"@{alice.username}")
    assert lines(bob.ok("search", "draft", "--json")) == []
    # Someone outside the room finds nothing of it.
    carol = new_user(cluster, "carol")
    assert lines(carol.ok("search", "quarterly", "--json")) == []
    assert "must hold a word" in fails(bob, "search", "?!")


def test_calls_are_in_the_timeline(cluster, pair):
    alice, bob, room = pair
    meeting = rest(cluster, alice, "POST", f"/api/rooms/{room}/meetings", {})
    rest(cluster, bob, "POST", f"/api/meetings/{meeting['id']}/decline", {})
    calls = [m for m in lines(bob.ok("history", room, "--json")) if "call" in m]
    assert [(m["call"]["meeting"], m["call"]["outcome"]) for m in calls] == [(meeting["id"], "started"), (meeting["id"], "declined")]
    assert all(m.get("text") is None and m["username"] == alice.username for m in calls)
    human = bob.ok("history", room)
    assert f"{alice.username}: started a call" in human and f"{alice.username}: called: declined" in human


def test_tail_tells_of_a_mention_in_a_room_it_does_not_follow(cluster, pair):
    alice, bob, room = pair
    carol = new_user(cluster, "carol")
    other = json.loads(carol.ok("contacts", "add", bob.username, "--json"))["room"]
    follower = bob.start("tail", room)
    try:
        follower.stderr_until(lambda line: "following" in line)
        carol.ok("send", other, f"hey @{bob.username}, look")
        line = follower.stderr_until(lambda line: "mentioned you" in line)
        assert other in line and f"hey @{bob.username}, look" in line
    finally:
        follower.stop()
