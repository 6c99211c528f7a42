"""A conversation as it reads and is written, in real headless Chromium across two WS nodes: links that are safe to
click, days under separators, runs of one sender's messages, a composer that grows with its lines, the delivery
state said once, message actions behind one "More actions" button per message and one tab stop for the whole list,
a deletion that asks first, the "New messages" divider with its jump, announcements of new messages outside the
list, and the open room and its draft kept across a reload."""

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import DESKTOP, PHONE, fresh_afterwards, pair, shot, visible  # noqa: F401
from test_browser import click, open_room, send, texts, wait
from test_files import sent

ITEMS = "#messages > li.message"

# Each message as the list shows it: its seq, sender, whether it continues a run, whether its face is laid out.
LAYOUT = """
return [...document.querySelectorAll('#messages > li')].map((li) => {
  const face = li.querySelector(':scope > .avatar');
  return {kind: li.classList.contains('message') ? 'message' : li.id || li.className, text: li.querySelector('.text')?.innerText ?? li.innerText,
          continued: li.classList.contains('continued'), face: face ? face.getClientRects().length > 0 : null};
});
"""

# What the keyboard's Tab reaches inside the message list.
TAB_STOPS = """
return [...document.querySelectorAll('#messages *')].filter((e) => e.tabIndex >= 0 && !e.disabled)
  .map((e) => [e.tagName, e.closest('li.message').querySelector('.text').innerText]);
"""


def menu_words(browser):
    """The open menu's actions besides its row of emoji."""
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#messages [role=menu] > [role=menuitem]")]


def layout(browser):
    return browser.execute_script(LAYOUT)


def type_lines(browser, lines):
    box = browser.find_element(By.ID, "message-input")
    for index, line in enumerate(lines):
        if index:
            box.send_keys(Keys.SHIFT, Keys.ENTER)
        box.send_keys(line)
    return box


def test_links_days_runs_and_the_composer(cluster, browsers):
    alice, bob = browsers
    alice_name, _ = pair(cluster, browsers, "c")

    # An empty room says what to do; the user's own @username is atop their rooms.
    for browser in browsers:
        wait(browser, lambda: "No messages yet — say hello" in browser.find_element(By.ID, "messages").text, message="no empty state")
    assert alice.find_element(By.ID, "me-username").text == f"@{alice_name}"

    # Links: http, https and mailto only, opening apart from the page; the rest stays text, and markup stays text.
    send(alice, "See https://example.com/wiki/Swift_(language)). Or mail mailto:bob@example.com, not javascript:alert(1) <b>bold</b>")
    wait(bob, lambda: bob.find_elements(By.CSS_SELECTOR, f"{ITEMS} .text a"), message="no links")
    links = bob.execute_script(
        "return [...document.querySelectorAll('#messages .text a')].map((a) => [a.getAttribute('href'), a.target, a.rel, a.textContent])"
    )
    assert links == [
        ["https://example.com/wiki/Swift_(language)", "_blank", "noopener noreferrer", "https://example.com/wiki/Swift_(language)"],
        ["mailto:bob@example.com", "_blank", "noopener noreferrer", "mailto:bob@example.com"],
    ], links
    assert bob.execute_script("return document.querySelectorAll('#messages .text b, #messages a[href^=javascript]').length") == 0
    assert "javascript:alert(1) <b>bold</b>" in texts(bob)[-1]

    # Bob answers in three lines, one after the other: one run, his face and name shown once.
    for text in ("One", "Two", "Three"):
        send(bob, text)
    wait(alice, lambda: texts(alice)[-3:] == ["One", "Two", "Three"], message="Alice did not get Bob's messages")
    rows = [row for row in layout(alice) if row["kind"] == "message"]
    assert [(row["text"], row["continued"], row["face"]) for row in rows[-3:]] == [("One", False, True), ("Two", True, False), ("Three", True, False)], rows
    # Under one separator, "Today", above the first message.
    rows = layout(alice)
    assert rows[0]["kind"] == "day" and rows[0]["text"] == "Today", rows
    assert [row["kind"] for row in rows].count("day") == 1
    labels = alice.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import('/js/views/arrange.js').then(({ dayLabel }) => {
          const now = new Date(2025, 2, 10, 9, 0);
          done([dayLabel('2025-03-10', now), dayLabel('2025-03-09', now), dayLabel('2025-03-01', now), dayLabel('2024-12-24', now)]);
        });"""
    )
    assert labels[:2] == ["Today", "Yesterday"] and "1" in labels[2] and "2024" not in labels[2] and "2024" in labels[3], labels

    # The composer grows with its lines, up to eight, then scrolls; Shift+Enter is a new line, Enter sends.
    box = type_lines(alice, ["first line", "second line", "third line"])
    assert box.get_attribute("rows") == "3"
    type_lines(alice, ["", *[f"more {n}" for n in range(10)]])
    assert box.get_attribute("rows") == "8" and "full" in box.get_attribute("class")
    shot(alice, "conversation-composer-grown")
    box.send_keys(Keys.ENTER)
    wait(bob, lambda: texts(bob)[-1].startswith("first line\nsecond line\nthird line\nmore 0"), message="the lines did not arrive as one message")
    wait(alice, lambda: box.get_attribute("rows") == "1" and box.get_attribute("value") == "")

    # Delivery is said once, under Alice's newest message: "Seen" once Bob, who has the room open, read it.
    wait(alice, lambda: sent(alice))
    wait(alice, lambda: [s.text for s in alice.find_elements(By.CSS_SELECTOR, "#messages .state")] == ["Seen"], message="no single 'Seen'")
    newest = alice.execute_script("return [...document.querySelectorAll('#messages > li.message.mine')].at(-1).querySelector('.state') !== null")
    assert newest
    shot(alice, "conversation-desktop")

    # New messages are announced apart from the list, which is no live region.
    assert alice.execute_script("const m = document.querySelector('#messages'); return [m.getAttribute('aria-live'), m.getAttribute('role')]") == [None, None]
    send(bob, "Announced?")
    wait(alice, lambda: alice.find_element(By.ID, "announcer").get_attribute("textContent") == "Bob: Announced?", message="not announced")
    assert alice.find_element(By.ID, "announcer").get_attribute("aria-live") == "polite"

    # At phone size it reads the same.
    bob.set_window_size(*PHONE)
    wait(bob, lambda: visible(bob, "message-input"))
    shot(bob, "conversation-phone")


def test_message_actions_are_one_tab_stop_and_deleting_asks_first(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "m")
    for text in ("Alpha", "Bravo"):
        send(alice, text)
    send(bob, "Charlie")
    wait(alice, lambda: texts(alice) == ["Alpha", "Bravo", "Charlie"])
    wait(alice, lambda: sent(alice))

    # However many messages, the list is one tab stop and its "More actions" button: the newest message at first.
    assert alice.execute_script(TAB_STOPS) == [["LI", "Charlie"], ["BUTTON", "Charlie"]]
    labels = alice.execute_script("return [...document.querySelectorAll('#messages button.more')].map((b) => b.getAttribute('aria-label'))")
    assert len(set(labels)) == 3, labels
    assert labels[0].startswith("More actions for message from you at ") and "Alpha" in labels[0], labels
    assert labels[2].startswith("More actions for message from Bob at "), labels

    # The arrow keys move between messages, and the tab stop goes with them.
    alice.execute_script("document.querySelector('#messages > li.message[tabindex=\"0\"]').focus()")
    alice.switch_to.active_element.send_keys(Keys.ARROW_UP)
    assert alice.switch_to.active_element.text.startswith("Bravo")
    assert alice.execute_script(TAB_STOPS) == [["LI", "Bravo"], ["BUTTON", "Bravo"]]

    # Enter on a message opens its menu: Bob's message offers no deletion to Alice, her own does.
    alice.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    alice.switch_to.active_element.send_keys(Keys.ENTER)
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, "#messages [role=menu]"))
    assert menu_words(alice) == ["Reply", "Copy text"]
    alice.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(alice, lambda: not alice.find_elements(By.CSS_SELECTOR, "#messages [role=menu]"))
    assert alice.switch_to.active_element.get_attribute("class") == "more"

    # Alice's own message: "More actions", then Delete, which asks; cancelled, the message stays.
    more = alice.find_elements(By.CSS_SELECTOR, f"{ITEMS} button.more")[1]
    alice.execute_script("arguments[0].click()", more)
    wait(alice, lambda: menu_words(alice) == ["Reply", "Edit", "Copy text", "Delete…"])
    assert more.get_attribute("aria-expanded") == "true"
    shot(alice, "conversation-actions-menu")
    click(alice, lambda: next(e for e in alice.find_elements(By.CSS_SELECTOR, "#messages [role=menuitem]") if e.text == "Delete…"))
    wait(alice, lambda: alice.find_element(By.ID, "confirm-dialog").is_displayed(), message="no confirmation")
    assert "Bravo" in alice.find_element(By.ID, "confirm-text").text
    assert alice.switch_to.active_element.get_attribute("id") == "confirm-no"
    shot(alice, "conversation-delete-confirm")
    alice.find_element(By.ID, "confirm-no").click()
    wait(alice, lambda: not alice.find_element(By.ID, "confirm-dialog").is_displayed())
    assert texts(alice) == ["Alpha", "Bravo", "Charlie"]

    # Confirmed, it goes for both, in its own node: the other messages' nodes stay as they were.
    alice.execute_script("for (const li of document.querySelectorAll('#messages > li.message')) li.drawnBefore = true")
    more = alice.find_elements(By.CSS_SELECTOR, f"{ITEMS} button.more")[1]
    alice.execute_script("arguments[0].click()", more)
    click(alice, lambda: next(e for e in alice.find_elements(By.CSS_SELECTOR, "#messages [role=menuitem]") if e.text == "Delete…"))
    click(alice, lambda: alice.find_element(By.ID, "confirm-yes"))
    for browser in browsers:
        wait(browser, lambda: texts(browser) == ["Alpha", "message deleted", "Charlie"], message="the deletion did not show")
    kept = alice.execute_script("return [...document.querySelectorAll('#messages > li.message')].map((li) => li.drawnBefore === true)")
    assert kept == [True, False, True], kept
    # The deleted message offers no actions.
    assert len(alice.find_elements(By.CSS_SELECTOR, f"{ITEMS} button.more")) == 2


def test_unread_divider_jump_title_and_the_room_and_draft_across_a_reload(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "u")
    send(alice, "Before you write a lot.")
    wait(bob, lambda: texts(bob) == ["Before you write a lot."])

    # On a phone, Alice goes back to her rooms; Bob writes a screenful and more.
    alice.set_window_size(*PHONE)
    click(alice, lambda: alice.find_element(By.ID, "back"))
    wait(alice, lambda: visible(alice, "rooms"))
    burst = [f"Unread {n}" for n in range(1, 26)]
    for text in burst:
        send(bob, text)
    wait(bob, lambda: texts(bob)[-1] == burst[-1])
    wait(alice, lambda: alice.title == f"({len(burst)}) Parley", message=f"the title says {alice.title!r}")
    shot(alice, "unread-rooms-phone")

    # Opened, the room shows its end, with "New messages" above the first unread one, out of view: a jump to it.
    open_room(alice, "Bob")
    wait(alice, lambda: texts(alice)[-1] == burst[-1])
    order = [row["kind"] if row["kind"] != "message" else row["text"] for row in layout(alice)]
    at = order.index("unread-divider")
    assert order[at - 1] == "Before you write a lot." and order[at + 1] == "Unread 1", order
    wait(alice, lambda: visible(alice, "jump-unread"), message="no jump to the unread messages")
    wait(alice, lambda: alice.title == "Parley")
    shot(alice, "unread-jump-phone")
    alice.find_element(By.ID, "jump-unread").click()
    in_view = """const d = document.getElementById('unread-divider').getBoundingClientRect(), l = document.getElementById('messages').getBoundingClientRect();
        return d.top >= l.top && d.bottom <= l.bottom;"""
    wait(alice, lambda: alice.execute_script(in_view), message="the jump did not show the divider")
    wait(alice, lambda: not visible(alice, "jump-unread"))
    assert alice.switch_to.active_element.text.startswith("Unread 1")
    shot(alice, "unread-divider-phone")

    # A draft stays with its room, and the room stays open, across a reload.
    alice.set_window_size(*DESKTOP)
    alice.find_element(By.ID, "message-input").send_keys("Half a thought")
    alice.refresh()
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Bob", message="the room did not open again")
    wait(alice, lambda: alice.find_element(By.ID, "message-input").get_attribute("value") == "Half a thought", message="the draft was lost")
    # Opening the room again after the reload leaves no divider: everything was read.
    assert not alice.find_elements(By.ID, "unread-divider")
    # Signing out forgets drafts and the open room.
    click(alice, lambda: alice.find_element(By.ID, "sign-out"))
    wait(alice, lambda: visible(alice, "auth"))
    assert alice.execute_script("return Object.keys(localStorage).filter((k) => k.startsWith('parley.memory.'))") == []
