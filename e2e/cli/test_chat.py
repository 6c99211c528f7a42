"""`parley chat` at a terminal: a pseudo-terminal each for Alice and Bob, keys typed into it, and what it draws read
back."""

import json
import os
import pty
import select
import subprocess
import time

from conftest import BINARY


class ChatSession:
    """`parley chat ROOM` on a pseudo-terminal of its own, as a person at a terminal runs it."""

    def __init__(self, user, room):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([BINARY, "chat", room], env=user.environment, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.screen = ""

    def expect(self, text, timeout=20):
        """Waits until `text` is on the screen."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never came; the screen:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    raise AssertionError(f"chat ended before {text!r}; the screen:\n{self.screen}")

    def type(self, keys):
        os.write(self.master, keys.encode())

    def exit_status(self, timeout=20):
        status = self.process.wait(timeout=timeout)
        os.close(self.master)
        return status


def unread(user, room):
    rooms = [json.loads(line) for line in user.ok("rooms", "--json").splitlines()]
    return next(entry["unread"] for entry in rooms if entry["id"] == room)


def test_chat_shows_messages_typing_and_read_marks_both_ways(pair):
    alice, bob, room = pair
    alice_chat = ChatSession(alice, "@" + bob.username)
    bob_chat = ChatSession(bob, "@" + alice.username)
    try:
        alice_chat.expect("· in ")
        bob_chat.expect("· in ")

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
    finally:
        for chat in (alice_chat, bob_chat):
            if chat.process.poll() is None:
                chat.process.kill()


def test_chat_with_a_room_that_is_not_yours_says_so(alice):
    result = alice.run("chat", "r_doesnotexist")
    assert result.returncode == 1 and "not_found" in result.stderr
