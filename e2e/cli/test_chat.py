"""`parley chat` at a terminal: a pseudo-terminal each for Alice and Bob, keys typed into it, and what it draws read
back."""

import contextlib
import json

from conftest import TerminalSession


def unread(user, room):
    rooms = [json.loads(line) for line in user.ok("rooms", "--json").splitlines()]
    return next(entry["unread"] for entry in rooms if entry["id"] == room)


@contextlib.contextmanager
def chatting(alice, bob):
    """`parley chat` for each of the two, in each other's direct room, both in it before the body runs; killed
    afterwards if still running."""
    chats = (TerminalSession(alice, "chat", "@" + bob.username), TerminalSession(bob, "chat", "@" + alice.username))
    try:
        for chat in chats:
            chat.expect("· in ")
        yield chats
    finally:
        for chat in chats:
            if chat.process.poll() is None:
                chat.process.kill()


def test_chat_shows_messages_typing_and_read_marks_both_ways(pair):
    alice, bob, room = pair
    with chatting(alice, bob) as (alice_chat, bob_chat):
        alice_chat.type("hel")
        bob_chat.expect(f"· {alice.username} is typing")
        alice_chat.type("lo\r")
        bob_chat.expect(f"{alice.username}: hello")
        alice_chat.expect(f"{alice.username}: hello")
        # On Bob's screen it is read: Alice sees his mark, and his room list holds nothing unread.
        alice_chat.expect(f"· {bob.username} has read up to #1")
        assert unread(bob, room) == 0

        # A message from elsewhere reaches the chat, and is read there too.
        bob.ok("send", "@" + alice.username, "from the shell")
        alice_chat.expect(f"{bob.username}: from the shell")
        bob_chat.expect(f"· {alice.username} has read up to #2")

        bob_chat.type("/quit\r")
        assert bob_chat.exit_status() == 0
        alice_chat.type("\x04")
        assert alice_chat.exit_status() == 0


def test_chat_with_a_room_that_is_not_yours_says_so(alice):
    result = alice.run("chat", "r_doesnotexist")
    assert result.returncode == 1 and "not_found" in result.stderr


def test_chat_replies_edits_and_reacts_with_slash_commands(pair):
    alice, bob, room = pair
    with chatting(alice, bob) as (alice_chat, bob_chat):
        alice_chat.type("lunch at noon?\r")
        bob_chat.expect("#1 ")
        bob_chat.type("/reply 1 yes please\r")
        alice_chat.expect(f"{bob.username}: (reply to #1) yes please")
        alice_chat.type("/edit 1 lunch at one?\r")
        bob_chat.expect(f"· {alice.username} edited #1: lunch at one?")
        bob_chat.type("/react 1 👍\r")
        alice_chat.expect(f"· {bob.username} reacted 👍 to #1")
        bob_chat.type("/edit 1 not mine\r")
        bob_chat.expect("! forbidden: only its sender edits a message")
        # The history holds what they did.
        history = {m["seq"]: m for m in map(json.loads, alice.ok("history", room, "--json").splitlines())}
        assert history[1]["text"] == "lunch at one?" and history[1]["reactions"][0]["emoji"] == "👍"
        assert history[2]["replyTo"] == 1
        for chat in (alice_chat, bob_chat):
            chat.type("/quit\r")
            assert chat.exit_status() == 0
