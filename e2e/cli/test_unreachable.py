"""The server away: a command of one request says so and exits 1; `tail` waits for it, saying so and retrying with a
growing pause, and follows its rooms once the server is back."""

import json


def test_a_command_fails_naming_the_server_and_tail_waits_for_it(cluster, pair):
    alice, bob, room = pair
    cluster.stop_load_balancer()
    try:
        sent = bob.run("send", room, "while away")
        assert sent.returncode == 1, sent
        assert f"cannot reach {cluster.base_url}" in sent.stderr, sent.stderr

        tail = alice.start("tail", room, "--since", "0", "--json")
        first = tail.stderr_until(lambda line: "cannot reach" in line, timeout=30)
        assert "retrying in 1 s" in first, first
        second = tail.stderr_until(lambda line: "cannot reach" in line, timeout=30)
        assert "retrying in 2 s" in second, second
        assert tail.process.poll() is None, "tail gave up"
    finally:
        cluster.start_load_balancer()

    try:
        tail.stderr_until(lambda line: "following " in line, timeout=45)
        seq = bob.ok("send", room, "after the server came back", "--json")
        lines = [json.loads(tail.line(tail.stdout, timeout=30))]
        while "text" not in lines[-1]:
            lines.append(json.loads(tail.line(tail.stdout, timeout=30)))
        # With --json, the wait was on standard output too, before the message.
        assert lines[0] == {"event": "server", "state": "unreachable", "server": cluster.base_url, "retryIn": 1}, lines
        message = lines[-1]
        assert (message["text"], message["seq"]) == ("after the server came back", json.loads(seq)["seq"]), message
    finally:
        tail.stop()
