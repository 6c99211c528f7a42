"""Avatars in the web client, in real headless Chromium: Alice (on ws-1) sets a picture from her name atop the room
list and sees it there at once; Bob (on ws-2), who has none, sees it in his room list and beside her messages once he
loads her again, and she sees his initials on his colour. A picture too large or not an image is refused in words.
Alice removes her picture and her initials come back; in a call, a camera that is off shows its owner's face. The
browsers are left signed out, as the next file's story expects them."""

import os
import uuid

from selenium.webdriver.common.by import By

from conftest import SCREENSHOTS, console
from test_browser import click, console_errors, csp_violations, open_room, send, sign_up, wait
from test_files import fresh, png, sent

# What a face shows, by selector: its initials (the attribute, and what the stylesheet draws from it), its picture's
# natural width (0 while loading, None when it has no picture), and whether it is laid out at all.
FACE = """
const face = document.querySelector(arguments[0]);
if (!face) return null;
const image = face.querySelector("img");
return {
  initials: face.dataset.initials,
  drawn: getComputedStyle(face, "::before").content,
  picture: image ? (image.complete ? image.naturalWidth : 0) : null,
  shown: face.getClientRects().length > 0,
};
"""

HEADER = "#profile .avatar"
THEIR_MESSAGE = "#messages li.message:not(.mine) > .avatar"
REMOTE_TILE = "#grid .tile:not(.local) > .avatar"


def face(browser, selector):
    return browser.execute_script(FACE, selector)


def room_face(name):
    return f"#rooms button.room[aria-label^='{name}'] .face .avatar"


def pictured(browser, selector, width=64):
    """Whether the face shows a loaded picture `width` pixels wide, and no initials."""
    shown = face(browser, selector)
    return shown is not None and shown["picture"] == width and shown["drawn"] == "none"


def initials(browser, selector, letters):
    """Whether the face shows `letters`, drawn, and no picture."""
    shown = face(browser, selector)
    return shown is not None and shown["picture"] is None and shown["initials"] == letters and shown["drawn"] == f'"{letters}"'


def toast(browser):
    box = browser.find_element(By.ID, "toast")
    return box.text if box.is_displayed() else ""


def test_alice_sets_and_removes_her_picture_and_bob_sees_it(cluster, browsers, tmp_path):
    alice, bob = browsers
    for browser in browsers:
        fresh(browser, cluster)
    # The console's entries of this story, not of those before it in the session.
    since = [len(console(browser)) for browser in browsers]
    suffix = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alicea{suffix}", f"boba{suffix}"
    sign_up(alice, cluster.url("ws-1"), alice_name, "Alice Avery")
    sign_up(bob, cluster.url("ws-2"), bob_name, "Bob")
    alice.find_element(By.ID, "search").send_keys(bob_name)
    click(alice, lambda: next(iter(alice.find_elements(By.CSS_SELECTOR, f"[data-add='{bob_name}']")), None))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Bob")
    send(alice, "Hello Bob.")
    wait(alice, lambda: sent(alice))
    open_room(bob, "Alice Avery")
    send(bob, "Hi Alice.")

    # Nobody has a picture yet: initials, the first and last words' first letters, on a colour.
    assert initials(alice, HEADER, "AA")
    assert alice.find_element(By.ID, "me").text == "Alice Avery"
    wait(bob, lambda: initials(bob, THEIR_MESSAGE, "AA"), message="no initials beside Alice's message")
    assert initials(bob, room_face("Alice Avery"), "AA")
    wait(alice, lambda: initials(alice, THEIR_MESSAGE, "B"), message="no initials beside Bob's message")
    assert initials(alice, room_face("Bob"), "B")
    colour = "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor"
    assert alice.execute_script(colour, HEADER) == bob.execute_script(colour, THEIR_MESSAGE)

    # Alice's menu offers a new picture; there is none to remove.
    alice.find_element(By.ID, "profile").click()
    wait(alice, lambda: alice.find_element(By.ID, "profile-menu").is_displayed())
    assert alice.find_element(By.ID, "avatar-change").is_displayed()
    assert not alice.find_element(By.ID, "avatar-remove").is_displayed()
    alice.find_element(By.ID, "room-title").click()
    wait(alice, lambda: not alice.find_element(By.ID, "profile-menu").is_displayed(), message="a click elsewhere left the menu open")

    # She chooses a PNG: her header shows it at once.
    picture = os.path.join(tmp_path, "me.png")
    with open(picture, "wb") as file:
        file.write(png(64, 64, (220, 90, 40)))
    alice.find_element(By.ID, "avatar-input").send_keys(picture)
    wait(alice, lambda: pictured(alice, HEADER), message="Alice's header does not show her picture")
    avatar = alice.execute_script("return window.parley.session.user.avatar")
    assert avatar.startswith("/api/avatars/") and avatar.endswith(".png"), avatar
    assert alice.find_element(By.ID, "me").text == "Alice Avery"

    # Bob sees it once he loads Alice again: in his room list, and beside her messages, after a reload.
    bob.refresh()
    wait(bob, lambda: pictured(bob, room_face("Alice Avery")), message="Bob's room list does not show Alice's picture")
    open_room(bob, "Alice Avery")
    wait(bob, lambda: pictured(bob, THEIR_MESSAGE), message="no picture beside Alice's message")
    bob.save_screenshot(os.path.join(SCREENSHOTS, "avatars.png"))
    # Bob still has none: Alice sees his initials.
    assert initials(alice, THEIR_MESSAGE, "B")

    # A picture over 1 MiB, and a file that is no image, are refused in words, and her picture stays.
    large = os.path.join(tmp_path, "large.png")
    with open(large, "wb") as file:
        file.write(png(8, 8) + bytes((1 << 20)))
    alice.find_element(By.ID, "avatar-input").send_keys(large)
    wait(alice, lambda: "at most 1.0 MB" in toast(alice), message=f"no error for a large picture: {toast(alice)!r}")
    notes = os.path.join(tmp_path, "notes.png")
    with open(notes, "wb") as file:
        file.write(b"These are not the bytes of a picture.\n")
    alice.find_element(By.ID, "avatar-input").send_keys(notes)
    wait(alice, lambda: "PNG, JPEG or WebP" in toast(alice), message=f"no error for a file that is no image: {toast(alice)!r}")
    assert alice.execute_script("return window.parley.session.user.avatar") == avatar
    assert pictured(alice, HEADER)

    # Alice removes her picture: her initials come back, here at once and for Bob when he loads her again.
    alice.find_element(By.ID, "profile").click()
    click(alice, lambda: alice.find_element(By.ID, "avatar-remove"))
    wait(alice, lambda: initials(alice, HEADER, "AA"), message="Alice's initials did not come back")
    assert alice.execute_script("return window.parley.session.user.avatar") is None
    bob.refresh()
    wait(bob, lambda: initials(bob, room_face("Alice Avery"), "AA"), message="Bob still sees Alice's picture")

    # In a call, Alice's camera off shows her picture in its place on Bob's screen.
    alice.find_element(By.ID, "avatar-input").send_keys(picture)
    wait(alice, lambda: pictured(alice, HEADER))
    bob.refresh()
    open_room(bob, "Alice Avery")
    wait(bob, lambda: pictured(bob, THEIR_MESSAGE))
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    click(bob, lambda: bob.find_element(By.ID, "accept-call"), message="Bob's browser did not ring")
    wait(bob, lambda: bob.find_elements(By.CSS_SELECTOR, REMOTE_TILE), timeout=30, message="no tile for Alice")
    assert not face(bob, REMOTE_TILE)["shown"]
    click(alice, lambda: alice.find_element(By.ID, "toggle-cam"))
    wait(bob, lambda: pictured(bob, REMOTE_TILE) and face(bob, REMOTE_TILE)["shown"], timeout=30, message="no picture for Alice's camera off")
    # And Bob's camera off shows his initials on Alice's screen.
    click(bob, lambda: bob.find_element(By.ID, "toggle-cam"))
    wait(alice, lambda: initials(alice, REMOTE_TILE, "B") and face(alice, REMOTE_TILE)["shown"], timeout=30, message="no initials for Bob's camera off")
    bob.save_screenshot(os.path.join(SCREENSHOTS, "avatars-call.png"))
    click(alice, lambda: alice.find_element(By.ID, "end-call"))
    for browser in browsers:
        wait(browser, lambda: not browser.find_element(By.ID, "call").is_displayed(), message="the call did not end")

    # Nothing logged an error or broke the Content-Security-Policy; then both sign out, for the next story.
    for browser, first in zip(browsers, since):
        assert console_errors(browser, first) == []
        assert csp_violations(browser) == []
    for browser in browsers:
        click(browser, lambda: browser.find_element(By.ID, "sign-out"))
        wait(browser, lambda: browser.find_element(By.ID, "auth").is_displayed(), message="no sign-in form after signing out")
