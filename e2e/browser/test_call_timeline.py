"""Calls in the timeline, in real headless Chromium across two WS nodes: each call leaves its start and its end in
the room as lines of their own, worded for whoever reads them ("You started a call" and "Alice started a call";
"Bob declined" and "You declined the call"; "Call cancelled" and "Missed call from Alice · 10:42"; "Call · 0:03"
for both), with a Join button on the start while the call is on; the room list's preview says the same; a missed
call marks the room, also after a reload, until the room is read."""

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import DESKTOP, PHONE, fresh_afterwards, pair, shot, visible  # noqa: F401
from test_browser import click, open_room, remote_video_width, send, texts, wait

ENTRIES = """
return [...document.querySelectorAll('#messages > li.call-entry')].map((li) => ({
  text: li.querySelector('.call-text').innerText, missed: li.classList.contains('missed'),
  join: li.querySelector('button.join-entry') ? li.querySelector('button.join-entry').getClientRects().length > 0 : null,
}));
"""


def entries(browser):
    return browser.execute_script(ENTRIES)


def lines(browser):
    return [entry["text"] for entry in entries(browser)]


def preview(browser):
    return browser.find_element(By.CSS_SELECTOR, "#rooms button.room .last").text


def room_label(browser):
    return browser.find_element(By.CSS_SELECTOR, "#rooms button.room").get_attribute("aria-label")


def test_calls_leave_lines_in_the_timeline_worded_for_each_side(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "t")
    send(alice, "Free for a quick call?")
    send(bob, "Sure, ring me.")
    wait(alice, lambda: texts(alice)[-1:] == ["Sure, ring me."])

    # Alice calls; while it rings each side reads who started it, and Bob's line offers to join.
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(alice, lambda: lines(alice) == ["You started a call"], message=f"Alice reads {lines(alice)}")
    wait(bob, lambda: entries(bob) == [{"text": "Alice started a call", "missed": False, "join": True}], message=f"Bob reads {entries(bob)}")
    assert entries(alice)[0]["join"] is False
    # Bob declines: Alice reads "Bob declined", Bob "You declined the call"; the start no longer offers to join.
    wait(bob, lambda: visible(bob, "incoming"))
    bob.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(alice, lambda: lines(alice) == ["You started a call", "Bob declined"], message=f"Alice reads {lines(alice)}")
    wait(bob, lambda: lines(bob) == ["Alice started a call", "You declined the call"], message=f"Bob reads {lines(bob)}")
    wait(bob, lambda: entries(bob)[0]["join"] is False)
    wait(alice, lambda: not visible(alice, "call"))

    # Alice calls again and gives up while Bob is on his room list: she reads "Call cancelled", he a missed call, in
    # his preview too, with a mark on the room.
    bob.set_window_size(*PHONE)
    click(bob, lambda: bob.find_element(By.ID, "back"))
    wait(bob, lambda: visible(bob, "rooms"))
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(bob, lambda: visible(bob, "incoming"))
    click(alice, lambda: alice.find_element(By.ID, "cancel-call"))
    wait(alice, lambda: lines(alice)[-1:] == ["Call cancelled"], message=f"Alice reads {lines(alice)}")
    wait(alice, lambda: preview(alice) == "Call cancelled")
    wait(bob, lambda: re.fullmatch(r"Missed call from Alice · \d\d?:\d\d.*", preview(bob)), message=f"Bob's preview: {preview(bob)!r}")
    wait(bob, lambda: "missed call" in room_label(bob))
    assert bob.find_element(By.CSS_SELECTOR, "#rooms .badge-missed").text == "Missed call"
    # A reload keeps the mark: the server counts the missed calls after Bob's read mark.
    bob.refresh()
    wait(bob, lambda: "missed call" in room_label(bob) and "1 unread" in room_label(bob), message="no missed call after the reload")
    shot(bob, "missed-call-phone")
    open_room(bob, "Alice")
    wait(bob, lambda: lines(bob)[-1:] and lines(bob)[-1].startswith("Missed call from Alice · "))
    assert entries(bob)[-1]["missed"] is True
    bob.set_window_size(*DESKTOP)
    wait(bob, lambda: "missed call" not in room_label(bob))
    # Read, it stays read after a reload.
    bob.refresh()
    wait(bob, lambda: lines(bob)[-1:] and lines(bob)[-1].startswith("Missed call from Alice · "))
    assert "missed call" not in room_label(bob) and "unread" not in room_label(bob), room_label(bob)

    # An answered call, joined from its line: both read how long it lasted.
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(bob, lambda: entries(bob)[-1] == {"text": "Alice started a call", "missed": False, "join": True})
    # Bob answers with the Join button of the call's line.
    click(bob, lambda: bob.find_elements(By.CSS_SELECTOR, "#messages li.call-entry button.join-entry")[-1])
    wait(bob, lambda: not visible(bob, "incoming"), message="joining did not stop the ringing")
    for browser in browsers:
        wait(browser, lambda: remote_video_width(browser) > 0, timeout=30, message="no remote video")
    # In the call, its start offers no join.
    wait(bob, lambda: entries(bob)[-1]["join"] is False)
    wait(alice, lambda: alice.find_element(By.ID, "call-timer").text >= "00:03", message="the call did not last")
    click(alice, lambda: alice.find_element(By.ID, "end-call"))
    for browser in browsers:
        wait(browser, lambda: re.fullmatch(r"Call · \d+:\d\d", lines(browser)[-1]), message=f"reads {lines(browser)}")
    assert lines(alice)[-1] == lines(bob)[-1] and lines(alice)[-1] != "Call · 0:00"
    send(bob, "Thanks, talk later!")
    wait(alice, lambda: texts(alice)[-1:] == ["Thanks, talk later!"])
    shot(bob, "call-timeline")

    # The other wordings, from each side: a missed call, and a group's declined one.
    words = alice.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import('/js/views/callEntry.js').then(({ callWords }) => {
          const store = (me, kind) => ({ me, room: () => ({ kind, peer: kind === 'direct' ? { id: me === 'a' ? 'b' : 'a' } : null }),
                                          nameOf: (id) => ({ a: 'Alice', b: 'Bob' })[id] });
          const entry = (outcome, durationMs) => ({ room: 'r', sender: 'a', sentAt: new Date(2025, 2, 10, 10, 42).toISOString(), call: { meeting: 'm', outcome, durationMs } });
          done([
            callWords(store('a', 'direct'), entry('missed')), callWords(store('b', 'direct'), entry('missed')),
            callWords(store('a', 'group'), entry('declined')), callWords(store('a', 'direct'), entry('answered', 192000)),
            callWords(store('b', 'direct'), entry('answered', 3723000)),
          ]);
        });"""
    )
    assert words[0] == "No answer" and re.fullmatch(r"Missed call from Alice · 10:42( AM)?", words[1]), words
    assert words[2:] == ["Call declined", "Call · 3:12", "Call · 1:02:03"], words
