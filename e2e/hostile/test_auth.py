"""Throttled logins and writes, logout that revokes the session it names (and only that one), a token whose user is
gone, and the web client's refresh cookie."""

import os
import shutil
import tempfile
import threading
import time
import uuid

import pytest

from conftest import Node, login, register
from wire import Refused, WebSocket, call

ATTEMPTS = 5  # PARLEY_LOGIN_ATTEMPTS, left at its default


def attempt(node, username, password, source):
    return call(node.port, "POST", "/api/auth/login", {"username": username, "password": password}, source=source)


def test_wrong_passwords_lock_the_account_for_that_address(node):
    source = "127.0.0.7"
    user = register(node, "guessed")
    answers = [attempt(node, user["username"], "wrong password", source) for _ in range(ATTEMPTS)]
    assert [(reply.status, reply.code) for reply in answers] == [(401, "unauthorized")] * ATTEMPTS, answers
    # The lock starts at the limit: at the latest the next failure sets it.
    locked = [attempt(node, user["username"], "wrong password", source) for _ in range(2)]
    assert 429 in [reply.status for reply in locked], locked
    # While locked, even the right password is refused, with when to come back.
    during = attempt(node, user["username"], user["password"], source)
    assert during.status == 429 and during.code == "rate_limited", during
    retry_after = int(during.headers["retry-after"])
    assert 1 <= retry_after <= 15 * 60
    time.sleep(retry_after + 0.3)
    after = attempt(node, user["username"], user["password"], source)
    assert after.status == 200 and after.json["accessToken"], after


def test_an_unknown_username_is_answered_as_a_wrong_password_and_counted_alike(node):
    known = register(node, "known")
    wrong = attempt(node, known["username"], "wrong password", "127.0.0.8")
    ghost = "ghost" + os.urandom(4).hex()
    answers = [attempt(node, ghost, "wrong password", "127.0.0.9") for _ in range(ATTEMPTS + 2)]
    assert (answers[0].status, answers[0].code) == (wrong.status, wrong.code) == (401, "unauthorized"), (answers[0], wrong)
    assert answers[0].json["error"]["message"] == wrong.json["error"]["message"]
    # An unknown account is throttled as a known one is, so that the 429 does not tell them apart either.
    assert [reply.status for reply in answers[:ATTEMPTS]] == [401] * ATTEMPTS, answers
    assert 429 in [reply.status for reply in answers[ATTEMPTS:]], answers


def test_creations_and_rest_sends_are_throttled_per_user(node):
    user = register(node, "writer")
    created = [call(node.port, "POST", "/api/rooms", {"name": f"room {index}"}, token=user["access"]) for index in range(31)]
    assert [reply.status for reply in created[:30]] == [201] * 30, created
    assert (created[30].status, created[30].code) == (429, "rate_limited"), created[30]
    assert int(created[30].headers["retry-after"]) >= 1
    # 120 sends at once by one user, where PARLEY_SEND_LIMIT (40) a second are allowed.
    room, replies = created[0].json["room"]["id"], []

    def run():
        for _ in range(30):
            replies.append(call(node.port, "POST", f"/api/rooms/{room}/messages",
                                {"clientId": str(uuid.uuid4()), "text": "hi"}, token=user["access"]))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    limited = [reply for reply in replies if reply.status == 429]
    assert limited, f"{len(replies)} sends at once, none refused"
    assert all(reply.code == "rate_limited" and int(reply.headers["retry-after"]) >= 1 for reply in limited), limited[0]
    assert {reply.status for reply in replies} <= {201, 429}


def me(node, token):
    return call(node.port, "GET", "/api/me", token=token)


def assert_open(ws):
    assert ws.request({"type": "ping"}, timeout=5)["ok"] is True


def test_logout_revokes_that_session_only(node):
    user = register(node, "leaver")
    a = {"access": user["access"], "refresh": user["refresh"]}
    b = login(node, user)
    with WebSocket.open(node.port, a["access"]) as socket_a, WebSocket.open(node.port, b["access"]) as socket_b:
        assert call(node.port, "POST", "/api/auth/logout", {"refreshToken": a["refresh"]}).status == 204
        assert me(node, a["access"]).status == 401, "session A's access token still works after its logout"
        with pytest.raises(Refused) as refused:
            WebSocket.open(node.port, a["access"]).close()
        assert refused.value.reply.status == 401
        assert socket_a.close_code(timeout=5) == 4001
        # Session B is another device: it keeps working, and its socket stays open.
        assert me(node, b["access"]).status == 200
        assert_open(socket_b)
        time.sleep(1)
        assert_open(socket_b)

        c = login(node, user)
        with WebSocket.open(node.port, c["access"]) as socket_c:
            assert call(node.port, "POST", "/api/auth/logout", {"refreshToken": c["refresh"], "everywhere": True}).status == 204
            assert socket_b.close_code(timeout=5) == 4001
            assert socket_c.close_code(timeout=5) == 4001
        assert me(node, b["access"]).status == 401
        assert me(node, c["access"]).status == 401
        assert call(node.port, "POST", "/api/auth/refresh", {"refreshToken": b["refresh"]}).status == 401


def test_a_token_whose_user_is_gone_is_401(node):
    """A node started again on an empty database with the same signing key: the token is valid, its user is not."""
    folder = tempfile.mkdtemp(prefix="parley-hostile-gone-")
    other = Node(folder, {"PARLEY_JWT_SECRET": "hostile-test-signing-key-of-32-bytes-or-more"}, name="gone")
    try:
        other.start()
        user = register(other, "ghost")
        assert other.terminate() is not None
        for name in os.listdir(folder):
            if name.startswith("parley.sqlite"):
                os.remove(os.path.join(folder, name))
        other.start()
        token = user["access"]
        answers = {
            "GET /api/me": me(other, token),
            "POST /api/rooms": call(other.port, "POST", "/api/rooms", {"name": "orphans"}, token=token),
            "POST /api/contacts": call(other.port, "POST", "/api/contacts", {"username": "someone"}, token=token),
            "GET /api/rooms": call(other.port, "GET", "/api/rooms", token=token),
        }
        assert {route: reply.status for route, reply in answers.items()} == dict.fromkeys(answers, 401), answers
        with pytest.raises(Refused) as refused:
            WebSocket.open(other.port, token).close()
        assert refused.value.reply.status == 401
    finally:
        other.kill()
        shutil.rmtree(folder, ignore_errors=True)


def cookie_of(reply):
    """The `parley_refresh` Set-Cookie of a reply: (value, attributes in lowercase)."""
    header = reply.headers.get("set-cookie", "")
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    assert name == "parley_refresh", header
    return value, [attribute.lower() for attribute in attributes]


def test_the_web_client_keeps_its_refresh_token_in_a_strict_cookie(node):
    username = "cookie" + os.urandom(4).hex()
    registered = call(node.port, "POST", "/api/auth/register",
                      {"username": username, "password": "correct horse", "name": "Cookie", "cookie": True})
    assert registered.status == 201, registered
    assert "refreshToken" not in registered.json, "the refresh token is in the JSON as well as the cookie"
    secret, attributes = cookie_of(registered)
    assert secret
    assert set(attributes) >= {"path=/api/auth", "max-age=2592000", "httponly", "secure", "samesite=strict"}, attributes

    refreshed = call(node.port, "POST", "/api/auth/refresh", {}, headers={"Cookie": f"parley_refresh={secret}"})
    assert refreshed.status == 200 and refreshed.json["accessToken"], refreshed
    rotated, _ = cookie_of(refreshed)
    assert rotated and rotated != secret

    out = call(node.port, "POST", "/api/auth/logout", {}, headers={"Cookie": f"parley_refresh={rotated}"})
    assert out.status == 204, out
    _, attributes = cookie_of(out)
    assert "max-age=0" in attributes
    assert me(node, refreshed.json["accessToken"]).status == 401


def test_guesses_sent_at_once_are_counted_as_surely_as_one_by_one(node):
    source = "127.0.0.13"
    user = register(node, "burstguessed")
    answers = []

    def guess(number):
        answers.append(attempt(node, user["username"], f"wrong password {number}", source).status)

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 30 and set(answers) <= {401, 429}, answers
    # The free attempts, and at most one more that took the lock: never all thirty hashed and answered 401.
    assert answers.count(401) <= ATTEMPTS + 1, f"{answers.count(401)} guesses were checked, where {ATTEMPTS} are free"
