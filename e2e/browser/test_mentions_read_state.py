"""Mentions and read state in real headless Chromium across two WS nodes: a message that names you (@username) is a
desktop notification and a chime while the tab is hidden, once, whichever room it is in, a toast while you look at
another room, and your @username is marked in the text; and a user's read state is shared by their devices: two
tabs signed in as Alice both count Bob's messages, and reading them in one clears the count in the other."""

from selenium.webdriver.common.by import By

from pair import PHONE, fresh_afterwards, pair, shot, toast_text, visible  # noqa: F401
from test_browser import click, open_room, send, texts, wait
from test_notifications import NOTIFIED, STAND_INS, away_on_the_room_list


def unread_badge(browser):
    badges = browser.find_elements(By.CSS_SELECTOR, "#rooms button.room .unread")
    return badges[0].text if badges else ""


def test_a_mention_notifies_once_and_is_marked(cluster, browsers):
    alice, bob = browsers
    alice_name, _ = pair(cluster, browsers, "e")
    alice.execute_script(STAND_INS)
    alice.execute_script("window.Notification.permission = 'granted'")

    # Alice on her room list, the tab hidden: Bob names her. One notification says so, with a chime.
    away_on_the_room_list(alice)
    before = alice.execute_script("return window.oscillators")
    send(bob, f"Can you check this, @{alice_name}?")
    wait(alice, lambda: alice.execute_script(NOTIFIED) == [["Bob mentioned you", f"Can you check this, @{alice_name}?"]], message=f"notified: {alice.execute_script(NOTIFIED)}")
    assert alice.execute_script("return window.oscillators") > before, "no chime"
    # A message that does not name her is notified as a message.
    send(bob, "Plain words.")
    wait(alice, lambda: len(alice.execute_script(NOTIFIED)) == 2)
    assert alice.execute_script(NOTIFIED)[1] == ["Bob", "Plain words."]

    # In the room, her @username is marked in Bob's message; someone else's is not.
    alice.execute_script("window.away = false")
    open_room(alice, "Bob")
    wait(alice, lambda: texts(alice)[-1:] == ["Plain words."])
    marks = alice.execute_script("return [...document.querySelectorAll('#messages .text .mention')].map((m) => m.textContent)")
    assert marks == [f"@{alice_name}"], marks
    send(alice, f"Not me: @{alice_name}x and mail me at x@{alice_name}.org")
    wait(alice, lambda: texts(alice)[-1].startswith("Not me"))
    assert len(alice.execute_script("return document.querySelectorAll('#messages .text .mention')")) == 1
    shot(alice, "mention-phone")

    # Looking at another room (none), the mention is a toast.
    click(alice, lambda: alice.find_element(By.ID, "back"))
    wait(alice, lambda: visible(alice, "rooms"))
    send(bob, f"@{alice_name} one more thing")
    wait(alice, lambda: toast_text(alice) == f"Bob mentioned you: @{alice_name} one more thing", message=f"the toast says {toast_text(alice)!r}")


def test_reading_on_one_device_clears_the_count_on_the_other(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "d")
    first = alice.current_window_handle
    alice.set_window_size(*PHONE)
    click(alice, lambda: alice.find_element(By.ID, "back"))
    wait(alice, lambda: visible(alice, "rooms"))
    # A second tab of Alice's, signed in through the same cookie, on her room list too.
    alice.switch_to.new_window("tab")
    second = alice.current_window_handle
    try:
        alice.get(cluster.url("ws-2"))
        wait(alice, lambda: visible(alice, "rooms") and alice.find_elements(By.CSS_SELECTOR, "#rooms button.room"), message="the second tab did not sign in")
        wait(alice, lambda: alice.find_element(By.TAG_NAME, "body").get_attribute("data-node"))
        for text in ("One", "Two", "Three"):
            send(bob, text)
        wait(alice, lambda: unread_badge(alice) == "3" and alice.title == "(3) Parley", message="the second tab did not count")
        alice.switch_to.window(first)
        wait(alice, lambda: unread_badge(alice) == "3" and alice.title == "(3) Parley", message="the first tab did not count")
        shot(alice, "read-state-before")

        # Read in the second tab: the first tab's count goes, the title with it.
        alice.switch_to.window(second)
        open_room(alice, "Bob")
        wait(alice, lambda: texts(alice)[-1:] == ["Three"])
        alice.switch_to.window(first)
        wait(alice, lambda: unread_badge(alice) == "" and alice.title == "Parley", message=f"the first tab still counts {unread_badge(alice)!r}")
        assert "unread" not in alice.find_element(By.CSS_SELECTOR, "#rooms button.room").get_attribute("aria-label")
    finally:
        alice.switch_to.window(second)
        alice.close()
        alice.switch_to.window(first)
