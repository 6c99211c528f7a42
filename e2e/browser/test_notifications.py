"""Being told while looking elsewhere, in real headless Chromium across two WS nodes: the unread total in the tab's
title, and while the tab is hidden a desktop notification and a chime for a new message and a notification for an
incoming call; clicking one opens its room. Permission is never asked for as the page loads: first when the user
sends a message, or presses "Enable notifications". The page's Notification and visibility are stood in for (a
headless browser shows no notifications and is never hidden), and its oscillators counted."""

from selenium.webdriver.common.by import By

from pair import PHONE, fresh_afterwards, pair, shot, visible  # noqa: F401
from test_browser import click, open_room, send, texts, wait

# Counts the page's own requests for permission, from before its scripts run.
COUNT_ASKS = """
window.permissionAsks = 0;
if (window.Notification) {
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => { window.permissionAsks += 1; return ask(...args); };
}
"""

# A Notification that records what it is asked to show, a tab that is hidden when window.away is true, and a count
# of the oscillators started (each tone is one or more).
STAND_INS = """
window.notified = [];
window.asked = 0;
window.Notification = class {
  static permission = "default";
  static requestPermission() { window.asked += 1; return Promise.resolve(window.Notification.permission); }
  constructor(title, options) { this.title = title; this.body = options.body; window.notified.push(this); }
  close() { this.closed = true; }
};
window.away = false;
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (window.away ? "hidden" : "visible") });
Object.defineProperty(document, "hidden", { configurable: true, get: () => window.away });
window.oscillators = 0;
const start = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.oscillators += 1; return start.call(this); };
"""

NOTIFIED = "return window.notified.map((n) => [n.title, n.body])"



def away_on_the_room_list(browser):
    """At phone size, back on the room list, with the tab hidden (the stand-ins' `window.away`)."""
    browser.set_window_size(*PHONE)
    click(browser, lambda: browser.find_element(By.ID, "back"))
    wait(browser, lambda: visible(browser, "rooms"))
    browser.execute_script("window.away = true")

def test_title_notifications_sound_and_permission_at_a_sensible_moment(cluster, browsers):
    alice, bob = browsers
    script = alice.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_ASKS})["identifier"]
    try:
        pair(cluster, browsers, "n")
        # Signing up and loading the page asked nothing; the offer to enable notifications shows while undecided.
        assert alice.execute_script("return window.permissionAsks") == 0
        undecided = alice.execute_script("return Notification.permission") == "default"
        assert visible(alice, "notifications-offer") == undecided
    finally:
        alice.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script})
    alice.execute_script(STAND_INS)

    # Sending a first message asks, once.
    send(alice, "Hello, are you there?")
    wait(alice, lambda: alice.execute_script("return window.asked") == 1, message="sending did not ask for notifications")
    send(alice, "Hello again.")
    wait(bob, lambda: texts(bob)[-1:] == ["Hello again."])
    assert alice.execute_script("return window.asked") == 1

    # Granted, on a phone, Alice goes back to her rooms and hides the tab; Bob writes.
    alice.execute_script("window.Notification.permission = 'granted'")
    away_on_the_room_list(alice)
    before = alice.execute_script("return window.oscillators")
    send(bob, "Ping while you are away")
    wait(alice, lambda: alice.execute_script(NOTIFIED) == [["Bob", "Ping while you are away"]], message="no notification for the message")
    assert alice.execute_script("return window.oscillators") > before, "no chime"
    wait(alice, lambda: alice.title == "(1) Parley", message=f"the title says {alice.title!r}")
    shot(alice, "notifications-unread-title-phone")

    # Clicking the notification opens its room.
    alice.execute_script("window.away = false; window.notified[0].onclick()")
    wait(alice, lambda: visible(alice, "chat") and alice.find_element(By.ID, "room-title").text == "Bob", message="the click did not open the room")
    wait(alice, lambda: alice.title == "Parley")
    assert alice.execute_script("return window.notified[0].closed") is True

    # A message while the tab shows is no notification.
    send(bob, "And now you are here")
    wait(alice, lambda: texts(alice)[-1:] == ["And now you are here"])
    assert len(alice.execute_script(NOTIFIED)) == 1

    # An incoming call while hidden: a notification that Bob is calling; it ends as Bob cancels.
    alice.execute_script("window.away = true")
    click(bob, lambda: bob.find_element(By.ID, "call-button"))
    wait(alice, lambda: ["Bob is calling", "Open Parley to answer."] in alice.execute_script(NOTIFIED), message="no notification for the call")
    wait(alice, lambda: visible(alice, "incoming"))
    click(bob, lambda: bob.find_element(By.ID, "cancel-call"))
    wait(alice, lambda: not visible(alice, "incoming"), message="the call did not stop ringing")
    alice.execute_script("window.away = false")

    # The offer's button asks again, whatever was asked before.
    alice.execute_script("window.Notification.permission = 'default'")
    alice.set_window_size(1280, 800)
    alice.execute_script("document.getElementById('notifications-offer').hidden = false")
    asked = alice.execute_script("return window.asked")
    click(alice, lambda: alice.find_element(By.ID, "enable-notifications"))
    wait(alice, lambda: alice.execute_script("return window.asked") == asked + 1)
    shot(alice, "notifications-offer")
    open_room(alice, "Bob")
