"""The web client end to end, in real headless Chromium: sign up, add a contact, chat, call, survive the death of a
WS node, and keep the session in an HttpOnly cookie across a reload, under a strict Content-Security-Policy. Alice's
browser asks for ws-1 and Bob's for ws-2, so every message and signal crosses nodes. The tests run in file order and
build on each other, as one user story."""

import os
import time
import uuid

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import SCREENSHOTS, console

story = {}


def wait(browser, condition, timeout=20, message=""):
    """Waits until `condition` holds; the page redraws as events arrive, so elements may go stale meanwhile."""
    # What a page in motion raises, and what a later poll may not: an element gone stale or not there yet, covered,
    # present but hidden (as the call dialog's buttons are until the call rings), or of a page that is going (signing
    # out reloads it: "Node ... does not belong to the document"). All are WebDriverExceptions.
    ignored = (WebDriverException, IndexError)
    return WebDriverWait(browser, timeout, poll_frequency=0.2, ignored_exceptions=ignored).until(lambda _: condition(), message)


def click(browser, find, message=""):
    """Clicks what `find` returns, once it is there and clickable."""

    def clicked():
        element = find()
        if element is None:
            return False
        element.click()
        return True

    wait(browser, clicked, message=message)


def texts(browser):
    # Read in one script: a pending message's node goes when it is stored, so elements found one call earlier may be gone.
    return browser.execute_script("return [...document.querySelectorAll('#messages li.message .text')].map((e) => e.innerText)")


def console_errors(browser, since=0):
    """The console's errors from its entry `since` on: a resource that failed to load (the favicon too) is one."""
    return [e["message"] for e in console(browser)[since:] if e["level"] == "SEVERE"]


def sign_up(browser, url, username, name):
    browser.get(url)
    wait(browser, lambda: browser.find_element(By.ID, "auth").is_displayed())
    click(browser, lambda: browser.find_element(By.ID, "to-sign-up"))
    form = browser.find_element(By.ID, "sign-up-form")
    wait(browser, lambda: form.is_displayed())
    form.find_element(By.NAME, "username").send_keys(username)
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.ID, "sign-up").click()
    wait(browser, lambda: browser.find_element(By.ID, "app").is_displayed())
    wait(browser, lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-node"), message="no hello")


def send(browser, text):
    box = browser.find_element(By.ID, "message-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def open_room(browser, name):
    click(browser, lambda: next((b for b in browser.find_elements(By.CSS_SELECTOR, "button.room") if name in b.text), None))
    wait(browser, lambda: browser.find_element(By.ID, "room-title").text == name)


def test_alice_signs_up_adds_bob_and_they_chat_both_ways(cluster, browsers):
    alice, bob = browsers
    # The console's entries of this story, not of those before it in the session.
    since = [len(console(browser)) for browser in browsers]
    suffix = uuid.uuid4().hex[:6]
    story["alice"], story["bob"] = f"alice{suffix}", f"bob{suffix}"
    sign_up(alice, cluster.url("ws-1"), story["alice"], "Alice")
    sign_up(bob, cluster.url("ws-2"), story["bob"], "Bob")
    assert alice.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-1"
    assert bob.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-2"
    # Loading the page and signing up logs no error, and the favicon is there.
    for browser, first in zip(browsers, since):
        assert console_errors(browser, first) == []
    favicon = alice.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch("/favicon.ico").then((r) => done([r.status, r.headers.get("content-type")]), (e) => done([0, e.message]));"""
    )
    assert favicon[0] == 200 and favicon[1].startswith("image/"), favicon

    alice.find_element(By.ID, "search").send_keys(story["bob"])
    click(alice, lambda: next(iter(alice.find_elements(By.CSS_SELECTOR, f"[data-add='{story['bob']}']")), None))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Bob")
    send(alice, "Hello Bob, this is Alice.")
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, "#messages li.message:not(.pending) [data-state='sent']"), message="not sent")

    # Bob's room list gets the new room live, with Alice's message in it.
    open_room(bob, "Alice")
    wait(bob, lambda: "Hello Bob, this is Alice." in texts(bob))
    # An incoming message adds a node of its own, and the messages drawn before it keep theirs.
    alice.execute_script("document.querySelector('#messages li.message').drawnBefore = true")
    send(bob, "Hi Alice! Bob here.")
    wait(alice, lambda: "Hi Alice! Bob here." in texts(alice), message="Alice did not get Bob's reply live")
    assert alice.execute_script("return document.querySelector('#messages li.message').drawnBefore") is True
    send(alice, "Shall we call?")
    wait(bob, lambda: texts(bob)[-1:] == ["Shall we call?"])
    assert texts(alice) == texts(bob) == ["Hello Bob, this is Alice.", "Hi Alice! Bob here.", "Shall we call?"]
    # Bob read everything: Alice's last message shows it, and it alone says how far it got.
    wait(alice, lambda: alice.find_element(By.CSS_SELECTOR, "#messages li.message:last-of-type .state").text == "Seen")
    assert len(alice.find_elements(By.CSS_SELECTOR, "#messages .state")) == 1
    alice.save_screenshot(os.path.join(SCREENSHOTS, "chat.png"))


FRAMES_DECODED = """
const done = arguments[arguments.length - 1];
if (!window.parley.call) return done(-1);
window.parley.callStats().then((stats) => {
  let frames = 0;
  for (const s of stats) if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
  done(frames);
});
"""


def remote_video_width(browser):
    return browser.execute_script(
        "const v = document.querySelector('#grid .tile:not(.local) video'); return v ? v.videoWidth : 0;"
    )


def test_alice_calls_bob_they_see_each_other_and_bob_sees_alice_mute(cluster, browsers):
    alice, bob = browsers
    alice.find_element(By.ID, "call-button").click()
    wait(alice, lambda: alice.find_element(By.ID, "call").is_displayed())
    wait(bob, lambda: bob.find_element(By.ID, "incoming").is_displayed(), message="Bob's browser did not ring")
    assert "Alice is calling" in bob.find_element(By.ID, "incoming-who").text
    bob.find_element(By.ID, "accept-call").click()

    for browser in (alice, bob):
        wait(browser, lambda: remote_video_width(browser) > 0, timeout=30, message="no remote video")
        first = browser.execute_async_script(FRAMES_DECODED)
        wait(browser, lambda: browser.execute_async_script(FRAMES_DECODED) > first + 10, message="framesDecoded does not grow")
    alice.save_screenshot(os.path.join(SCREENSHOTS, "call.png"))

    # Alice turns her camera off: her camera stops, and Bob sees her video muted.
    alice.find_element(By.ID, "toggle-cam").click()
    wait(alice, lambda: alice.find_element(By.ID, "toggle-cam").text == "Camera off")
    assert alice.execute_script("return window.parley.call.tracks.video") is None
    wait(bob, lambda: bob.find_element(By.CSS_SELECTOR, "#grid .tile:not(.local)").get_attribute("data-video") == "false")
    assert "camera off" in bob.find_element(By.CSS_SELECTOR, "#grid .tile:not(.local) figcaption").text
    bob.save_screenshot(os.path.join(SCREENSHOTS, "call-muted.png"))

    alice.find_element(By.ID, "end-call").click()
    for browser in (alice, bob):
        wait(browser, lambda: not browser.find_element(By.ID, "call").is_displayed(), message="the call did not end")


def test_alices_node_dies_and_her_page_catches_up_on_the_other_node(cluster, browsers):
    alice, bob = browsers
    cluster.run("kill", "ws-1")
    wait(alice, lambda: alice.find_element(By.ID, "offline-banner").is_displayed() or alice.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-2")
    sent = [f"While you were away {n}" for n in range(1, 8)]
    for text in sent:
        send(bob, text)
    wait(bob, lambda: texts(bob)[-1:] == sent[-1:])
    wait(alice, lambda: alice.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-2", timeout=30, message="Alice did not reconnect")
    wait(alice, lambda: not alice.find_element(By.ID, "offline-banner").is_displayed())
    wait(alice, lambda: texts(alice)[-len(sent):] == sent, timeout=30, message=f"Alice has {texts(alice)}")
    expected = ["Hello Bob, this is Alice.", "Hi Alice! Bob here.", "Shall we call?", *sent]
    assert texts(alice) == expected
    # Every seq once and in order: the messages, and the two lines of the call before (its start and its end).
    seqs = alice.execute_script("return [...document.querySelectorAll('#messages > li[data-seq]')].map((e) => Number(e.dataset.seq))")
    assert seqs == list(range(1, len(expected) + 3))
    assert len(alice.find_elements(By.CSS_SELECTOR, "#messages > li.call-entry")) == 2

    # And she can still talk: her message goes through the surviving node.
    send(alice, "Back again.")
    wait(bob, lambda: texts(bob)[-1:] == ["Back again."])
    cluster.run("restart", "ws-1")


def test_a_call_survives_the_death_of_its_node(cluster, browsers):
    alice, bob = browsers
    wait(alice, lambda: alice.find_element(By.ID, "call-button").is_displayed())
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    click(bob, lambda: bob.find_element(By.ID, "accept-call"), message="Bob's browser did not ring")
    for browser in (alice, bob):
        wait(browser, lambda: remote_video_width(browser) > 0, timeout=30, message="no remote video")
    old = bob.execute_script("return window.parley.conn")

    # Both pages are on ws-2 now (Alice moved there when ws-1 died). Each reconnects to ws-1 and joins the meeting
    # again with its new connection; the old connections go when the dead node's attendees are reaped.
    cluster.run("kill", "ws-2")
    wait(bob, lambda: bob.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-1", timeout=30)
    new = bob.execute_script("return window.parley.conn")
    assert new != old
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, f"#grid .tile[data-conn='{new}']"), timeout=30, message="Bob did not rejoin")
    wait(alice, lambda: not alice.find_elements(By.CSS_SELECTOR, f"#grid .tile[data-conn='{old}']"), timeout=30, message="the old connection stayed")
    wait(alice, lambda: remote_video_width(alice) > 0, timeout=30)
    first = alice.execute_async_script(FRAMES_DECODED)
    wait(alice, lambda: alice.execute_async_script(FRAMES_DECODED) > first + 10, message="no video after the rejoin")
    click(bob, lambda: bob.find_element(By.ID, "leave-call"))
    wait(alice, lambda: not alice.find_element(By.ID, "call").is_displayed() or len(alice.find_elements(By.CSS_SELECTOR, "#grid .tile")) == 1)
    click(alice, lambda: alice.find_element(By.ID, "leave-call"))
    cluster.run("restart", "ws-2")


def test_the_client_works_at_phone_width(cluster, browsers):
    alice, _ = browsers
    alice.set_window_size(390, 844)
    click(alice, lambda: alice.find_element(By.ID, "back"))
    wait(alice, lambda: alice.find_element(By.ID, "rooms").is_displayed() and not alice.find_element(By.ID, "chat").is_displayed())
    open_room(alice, "Bob")
    wait(alice, lambda: alice.find_element(By.ID, "message-input").is_displayed() and not alice.find_element(By.ID, "rooms").is_displayed())
    alice.save_screenshot(os.path.join(SCREENSHOTS, "phone.png"))
    alice.set_window_size(1280, 800)


def csp_violations(browser):
    """What the Content-Security-Policy refused: the console's words for it, and the page's securitypolicyviolation
    events (recorded by conftest's script, in the current document only)."""
    logged = [e["message"] for e in console(browser) if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    return logged + browser.execute_script("return window.cspViolations ?? []")


STORAGE = "return JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})"


def refresh_cookies(browser):
    """The cookies Chromium would send to /api/auth/refresh, HttpOnly ones included (DevTools sees them all)."""
    origin = browser.current_url.split("/?")[0]
    return [c for c in browser.execute_cdp_cmd("Network.getCookies", {"urls": [f"{origin}/api/auth/refresh"]})["cookies"] if c["name"] == "parley_refresh"]


def test_the_session_is_an_httponly_cookie_and_nothing_breaks_the_csp(cluster, browsers):
    alice, bob = browsers
    # Over the whole story so far (sign-up, chat, calls, dead nodes): nothing refused, in either browser.
    for browser in browsers:
        assert csp_violations(browser) == []

    # No token in web storage, and the refresh cookie is out of the page's reach: HttpOnly (and scoped to /api/auth).
    for browser in browsers:
        token = browser.execute_script("return window.parley.token")
        assert token
        storage = browser.execute_script(STORAGE)
        assert token not in storage and "accessToken" not in storage and "refreshToken" not in storage, storage
        assert "parley_refresh" not in browser.execute_script("return document.cookie")
    # Chromium keeps a Secure cookie on http://127.0.0.1 (loopback is a secure context) and sends it to /api/auth.
    [cookie] = refresh_cookies(alice)
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/auth"
    assert cookie["value"] not in alice.execute_script(STORAGE)

    # The page's window onto the client is read-only.
    assert alice.execute_script("'use strict'; try { window.parley.token = 'x'; return 'written'; } catch (e) { return e.name; }") == "TypeError"
    assert alice.execute_script("'use strict'; try { window.parley = {}; return 'written'; } catch (e) { return e.name; }") == "TypeError"

    # A rejected access token is refreshed through the cookie, which rotates, and the request goes again: Alice's
    # search, sent with a token the server refuses (401), finds Bob all the same.
    before = alice.execute_script("return window.parley.token")
    errors = len(console(alice))
    alice.execute_script("window.parley.spoilAccessToken()")
    alice.find_element(By.ID, "search").send_keys(story["bob"])
    wait(alice, lambda: "contact" in alice.find_element(By.ID, "search-results").text, message="the search failed after a 401")
    assert any(" 401 " in error for error in console_errors(alice, errors)), console_errors(alice, errors)
    assert alice.execute_script("return window.parley.token") not in (before, "not-a-token")
    [rotated] = refresh_cookies(alice)
    assert rotated["value"] != cookie["value"]

    # A reload keeps Alice signed in, through the cookie alone (which rotates again), with no error, and she chats on.
    errors = len(console(alice))
    alice.refresh()
    wait(alice, lambda: alice.find_element(By.ID, "app").is_displayed(), message="the reload signed Alice out")
    wait(alice, lambda: alice.find_element(By.TAG_NAME, "body").get_attribute("data-node"), message="no hello after the reload")
    assert console_errors(alice, errors) == []
    [reloaded] = refresh_cookies(alice)
    assert reloaded["value"] != rotated["value"]
    assert alice.find_element(By.ID, "me").text == "Alice"
    open_room(alice, "Bob")
    wait(alice, lambda: "Back again." in texts(alice))
    send(alice, "Reloaded, still here.")
    wait(bob, lambda: texts(bob)[-1:] == ["Reloaded, still here."], message="Bob did not get Alice's message after her reload")
    assert alice.execute_script("return window.parley.token") not in alice.execute_script(STORAGE)
    assert csp_violations(alice) == []

    # Signing out clears the cookie; a reload then shows the sign-in form.
    click(alice, lambda: alice.find_element(By.ID, "sign-out"))
    wait(alice, lambda: alice.find_element(By.ID, "auth").is_displayed(), message="no sign-in form after signing out")
    wait(alice, lambda: refresh_cookies(alice) == [], message="the cookie outlived the sign-out")
    alice.refresh()
    wait(alice, lambda: alice.find_element(By.ID, "auth").is_displayed(), message="no sign-in form after a reload")
    assert not alice.find_element(By.ID, "app").is_displayed()
    assert alice.execute_script("return window.parley.session") is None
    # Without test=1 in its address, the page has no window.parley.
    alice.get(cluster.url("ws-1", test=False))
    wait(alice, lambda: alice.find_element(By.ID, "auth").is_displayed())
    assert alice.execute_script("return typeof window.parley") == "undefined"
    for browser in browsers:
        assert csp_violations(browser) == []
