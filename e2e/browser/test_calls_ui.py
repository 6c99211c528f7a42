"""The call screens in real headless Chromium across two WS nodes, at desktop and phone size: the outgoing screen
names the callee with their face, shows your camera small and offers Cancel alone; the incoming card sits below the
header and Escape declines it; each side reads the call's end in its own words; a connected call counts its length,
shows a camera that is off as initials on a colour, and keeps the chat usable beside it; a peer who drops is "Bob
left the call", never "Calling Bob…" again; after a reload the room's "Join call" bar takes you back; on a phone the
call keeps the keyboard inside it and its Chat button shows the conversation."""

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import PHONE, DESKTOP, fresh_afterwards, pair, shot, toast_text, visible  # noqa: F401
from test_browser import click, open_room, remote_video_width, send, texts, wait

# The call screen's geometry: its box, its own camera's, whether anything in it overflows, and what it shows.
GEOMETRY = """
const call = document.getElementById('call'), local = document.querySelector('#grid .tile.local');
const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; };
return {
  call: box(call), local: local ? box(local) : null,
  overflows: [call, document.getElementById('grid')].some((e) => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1),
  viewport: {width: innerWidth, height: innerHeight},
};
"""

CONTROLS = "return [...document.querySelectorAll('#call .controls button')].filter((b) => b.getClientRects().length).map((b) => b.id)"

# Whether the element at the middle of the composer is the composer: nothing covers it.
COMPOSER_UNCOVERED = """
const input = document.getElementById('message-input'), r = input.getBoundingClientRect();
return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === input;
"""

REMOTE_TILE = "#grid .tile:not(.local)"


def status(browser):
    return browser.find_element(By.ID, "call-status").text


def active_id(browser):
    return browser.switch_to.active_element.get_attribute("id")


def test_calling_declining_cancelling_and_the_wording_of_each_side(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "k")

    # The outgoing screen: Bob's name and face, Alice's own camera small, and Cancel alone.
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(alice, lambda: visible(alice, "call") and status(alice) == "Calling Bob…", message="no outgoing screen")
    assert alice.find_element(By.ID, "calling-name").text == "Bob"
    assert alice.find_element(By.CSS_SELECTOR, "#calling .avatar").get_attribute("data-initials") == "B"
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, "#grid .tile.local"))
    assert alice.execute_script(CONTROLS) == ["toggle-mic", "toggle-cam", "cancel-call"]
    geometry = alice.execute_script(GEOMETRY)
    assert not geometry["overflows"], geometry
    assert geometry["local"]["width"] < geometry["call"]["width"] * 0.3, geometry
    # The focus went into the call; the conversation beside it stays usable.
    assert alice.execute_script("return document.getElementById('call').contains(document.activeElement)")
    assert visible(alice, "message-input") and alice.execute_script(COMPOSER_UNCOVERED)
    shot(alice, "call-outgoing-desktop")

    # Bob's card rings below his header, not over it; Escape declines.
    wait(bob, lambda: visible(bob, "incoming"), message="Bob's browser did not ring")
    card = bob.find_element(By.ID, "incoming").rect
    header = bob.find_element(By.CSS_SELECTOR, "#chat > .bar").rect
    assert card["y"] >= header["y"] + header["height"], (card, header)
    shot(bob, "call-incoming-desktop")
    bob.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(bob, lambda: not visible(bob, "incoming"), message="Escape did not decline")
    wait(bob, lambda: toast_text(bob) == "You declined the call from Alice.", message=f"Bob read {toast_text(bob)!r}")
    wait(alice, lambda: not visible(alice, "call"), message="the declined call stayed open")
    assert toast_text(alice) == "Bob declined the call."
    # Alice's focus is back where it was: the Call button.
    wait(alice, lambda: active_id(alice) == "call-button")

    # Alice calls and cancels: she reads "Call cancelled", Bob a missed call, with a mark on the room until he opens it.
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(bob, lambda: visible(bob, "incoming"))
    click(alice, lambda: alice.find_element(By.ID, "cancel-call"))
    wait(alice, lambda: not visible(alice, "call"))
    wait(alice, lambda: toast_text(alice) == "Call cancelled.", message=f"Alice read {toast_text(alice)!r}")
    wait(bob, lambda: not visible(bob, "incoming"))
    wait(bob, lambda: toast_text(bob) == "Missed call from Alice.", message=f"Bob read {toast_text(bob)!r}")
    bob.set_window_size(*PHONE)
    click(bob, lambda: bob.find_element(By.ID, "back"))
    wait(bob, lambda: "Missed call" in bob.find_element(By.CSS_SELECTOR, "#rooms button.room").text, message="no missed call on the room")
    shot(bob, "call-missed-phone")
    open_room(bob, "Alice")
    wait(bob, lambda: "Missed call" not in bob.find_element(By.CSS_SELECTOR, "#rooms button.room").get_attribute("aria-label"))
    bob.set_window_size(*DESKTOP)

    # The other endings, worded from each side.
    words = alice.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import('/js/views/callOutcome.js').then(({ outcome }) => {
          const store = (me) => ({ me, room: () => ({ kind: 'direct', peer: { id: me === 'a' ? 'b' : 'a' } }), nameOf: (id) => ({ a: 'Alice', b: 'Bob' })[id] });
          const meeting = { room: 'r', host: 'a' };
          done([
            outcome(store('a'), meeting, 'missed', 'in'), outcome(store('b'), meeting, 'missed', 'ringing'),
            outcome(store('a'), meeting, 'empty', 'in', 65000), outcome(store('b'), meeting, 'ended', null),
          ]);
        });"""
    )
    assert words == ["Bob did not answer.", "Missed call from Alice.", "Call ended · 01:05", None], words


def test_a_connected_call_beside_the_chat_a_drop_a_rejoin_and_the_phone(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "j")
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    click(bob, lambda: bob.find_element(By.ID, "accept-call"), message="Bob's browser did not ring")
    for browser in browsers:
        wait(browser, lambda: remote_video_width(browser) > 0, timeout=30, message="no remote video")

    # Connected: no Cancel, and the call's length counts up.
    wait(alice, lambda: status(alice) == "In a call with Bob")
    assert alice.execute_script(CONTROLS) == ["toggle-mic", "toggle-cam", "toggle-screen", "record", "leave-call", "end-call"]
    first = alice.find_element(By.ID, "call-timer").text
    assert re.fullmatch(r"\d\d:\d\d", first), first
    wait(alice, lambda: alice.find_element(By.ID, "call-timer").text != first, message="the timer stands still")
    assert not alice.execute_script(GEOMETRY)["overflows"]

    # The chat beside the call works.
    assert alice.execute_script(COMPOSER_UNCOVERED)
    send(alice, "Talking and typing.")
    wait(bob, lambda: texts(bob)[-1:] == ["Talking and typing."], message="the chat beside the call did not work")

    # Bob's camera off: his initials on his colour, not a black tile.
    click(bob, lambda: bob.find_element(By.ID, "toggle-cam"))
    wait(alice, lambda: alice.find_element(By.CSS_SELECTOR, REMOTE_TILE).get_attribute("data-video") == "false", timeout=30)
    tile = alice.execute_script(
        """const t = document.querySelector(arguments[0]), face = t.querySelector('.avatar');
        return [getComputedStyle(t).backgroundColor, face.dataset.initials, face.getClientRects().length > 0];""",
        REMOTE_TILE,
    )
    assert tile[0] not in ("rgb(0, 0, 0)", "rgba(0, 0, 0, 0)") and tile[1:] == ["B", True], tile
    shot(alice, "call-connected-desktop")

    # Bob reloads: Alice reads that he left, not that she is calling him; Bob's room offers the call to join again.
    bob.refresh()
    wait(alice, lambda: status(alice) == "Bob left the call", timeout=30, message=f"Alice reads {status(alice)!r}")
    assert alice.find_element(By.ID, "calling-note").text == "left the call"
    wait(bob, lambda: visible(bob, "join-bar"), timeout=30, message="no join bar after the reload")
    assert "A call is on with Alice" in bob.find_element(By.ID, "join-text").text
    shot(bob, "call-join-bar-desktop")
    click(bob, lambda: bob.find_element(By.ID, "join-call"))
    wait(bob, lambda: visible(bob, "call"))
    for browser in browsers:
        wait(browser, lambda: status(browser).startswith("In a call with"), timeout=30, message="the rejoin did not connect")
    wait(bob, lambda: remote_video_width(bob) > 0, timeout=30, message="no video after the rejoin")
    assert not visible(bob, "join-bar")

    # On a phone the call takes the screen and keeps the keyboard in it.
    bob.set_window_size(*PHONE)
    wait(bob, lambda: bob.execute_script(GEOMETRY)["call"]["width"] == bob.execute_script("return innerWidth"))
    controls = bob.execute_script(CONTROLS)
    assert "show-chat" in controls
    bob.execute_script("document.getElementById(arguments[0]).focus()", controls[-1])
    bob.switch_to.active_element.send_keys(Keys.TAB)
    assert bob.execute_script("return document.getElementById('call').contains(document.activeElement)"), active_id(bob)
    first_stop = active_id(bob)
    bob.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
    assert active_id(bob) == controls[-1]
    assert first_stop != controls[-1]
    shot(bob, "call-phone")

    # Its Chat button shows the conversation, with a way back to the call.
    click(bob, lambda: bob.find_element(By.ID, "show-chat"))
    wait(bob, lambda: visible(bob, "message-input") and not visible(bob, "call"))
    assert bob.find_element(By.ID, "join-call").text == "Return to call"
    send(bob, "Typed from the phone during the call.")
    wait(alice, lambda: texts(alice)[-1:] == ["Typed from the phone during the call."])
    shot(bob, "call-chat-phone")
    click(bob, lambda: bob.find_element(By.ID, "join-call"))
    wait(bob, lambda: visible(bob, "call") and not visible(bob, "join-bar"))

    # Bob leaves: Alice's call says so; she leaves too, and reads how long it lasted.
    click(bob, lambda: bob.find_element(By.ID, "leave-call"))
    wait(alice, lambda: status(alice) == "Bob left the call", timeout=30)
    click(alice, lambda: alice.find_element(By.ID, "leave-call"))
    wait(alice, lambda: not visible(alice, "call"))
    wait(alice, lambda: toast_text(alice).startswith("Call ended · "), message=f"Alice read {toast_text(alice)!r}")
