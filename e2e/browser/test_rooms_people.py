"""Rooms and people in real headless Chromium across two WS nodes: a new user's empty room list says how to start;
being added as a contact or to a group is told; a group's member count shows to every member; its owner renames it
and deletes it (after asking), and a member sees neither control."""

import uuid

from selenium.webdriver.common.by import By

from pair import DESKTOP, PHONE, fresh_afterwards, shot, toast_text, visible  # noqa: F401
from test_browser import click, open_room, sign_up, wait
from test_files import fresh


def room_names(browser):
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#rooms button.room .name")]


def test_empty_states_added_notices_member_counts_rename_and_delete(cluster, browsers):
    alice, bob = browsers
    for browser in browsers:
        fresh(browser, cluster)
    suffix = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alicer{suffix}", f"bobr{suffix}"

    # A new user has no rooms: the list says how to get one, at either size.
    sign_up(alice, cluster.url("ws-1"), alice_name, "Alice")
    wait(alice, lambda: visible(alice, "rooms-empty"), message="no empty state for the rooms")
    assert "Add a contact or create a group to start" in alice.find_element(By.ID, "rooms-empty").text
    assert alice.find_element(By.ID, "me-username").text == f"@{alice_name}"
    assert "Pick a room" in alice.find_element(By.ID, "room-title").text and visible(alice, "no-room")
    shot(alice, "rooms-empty-desktop")
    alice.set_window_size(*PHONE)
    wait(alice, lambda: visible(alice, "rooms-empty"))
    shot(alice, "rooms-empty-phone")
    alice.set_window_size(*DESKTOP)

    # Alice adds Bob: Bob is told, Alice is not told what she did herself.
    sign_up(bob, cluster.url("ws-2"), bob_name, "Bob")
    alice.find_element(By.ID, "search").send_keys(bob_name)
    click(alice, lambda: next(iter(alice.find_elements(By.CSS_SELECTOR, f"[data-add='{bob_name}']")), None))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Bob")
    wait(bob, lambda: toast_text(bob) == "Alice added you as a contact.", message=f"Bob read {toast_text(bob)!r}")
    assert not visible(bob, "rooms-empty")
    assert "added you" not in toast_text(alice)

    # Alice makes a group with Bob: Bob is told he was added, and both see how many they are.
    click(alice, lambda: alice.find_element(By.ID, "new-group"))
    wait(alice, lambda: alice.find_element(By.ID, "group-dialog").is_displayed())
    alice.find_element(By.CSS_SELECTOR, "#group-form [name=name]").send_keys("Trip")
    click(alice, lambda: alice.find_element(By.CSS_SELECTOR, "#group-candidates input[type=checkbox]"))
    click(alice, lambda: alice.find_element(By.CSS_SELECTOR, "#group-form button[value=create]"))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Trip")
    wait(bob, lambda: "added" in toast_text(bob) and "Trip" in toast_text(bob), message=f"Bob read {toast_text(bob)!r}")
    open_room(bob, "Trip")
    for browser in browsers:
        wait(browser, lambda: browser.find_element(By.ID, "members").text == "2 members", message="no member count")
        assert "No messages yet — say hello" in browser.find_element(By.ID, "messages").text
    bob.set_window_size(*PHONE)
    wait(bob, lambda: bob.find_element(By.ID, "members").is_displayed() and bob.find_element(By.ID, "members").text == "2 members")
    shot(bob, "rooms-group-member-phone")
    bob.set_window_size(*DESKTOP)

    # Bob, a member, may neither rename nor delete it.
    click(bob, lambda: bob.find_element(By.ID, "members"))
    wait(bob, lambda: bob.find_element(By.ID, "members-dialog").is_displayed())
    assert not visible(bob, "group-settings") and not visible(bob, "delete-group")
    click(bob, lambda: bob.find_element(By.CSS_SELECTOR, "#members-dialog button[value=close]"))

    # Alice, its owner, renames it: a blank name is refused beside the field, a good one taken.
    click(alice, lambda: alice.find_element(By.ID, "members"))
    wait(alice, lambda: visible(alice, "group-settings") and visible(alice, "delete-group"))
    name = alice.find_element(By.ID, "group-name")
    name.clear()
    name.send_keys("   ")
    alice.find_element(By.ID, "rename-group").click()
    wait(alice, lambda: visible(alice, "group-name-error"))
    assert name.get_attribute("aria-invalid") == "true"
    name.clear()
    name.send_keys("Trip to Rome")
    alice.find_element(By.ID, "rename-group").click()
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Trip to Rome", message="the rename did not show")
    assert not visible(alice, "group-name-error")
    assert "Trip to Rome" in room_names(alice)
    shot(alice, "rooms-group-settings")
    # Bob sees the new name once he loads his rooms again.
    bob.refresh()
    wait(bob, lambda: "Trip to Rome" in room_names(bob), message=f"Bob's rooms: {room_names(bob)}")

    # Alice deletes it, after saying yes: it goes from both lists.
    click(alice, lambda: alice.find_element(By.ID, "delete-group"))
    wait(alice, lambda: alice.find_element(By.ID, "confirm-dialog").is_displayed())
    assert alice.find_element(By.ID, "confirm-title").text == "Delete Trip to Rome?"
    click(alice, lambda: alice.find_element(By.ID, "confirm-yes"))
    for browser in browsers:
        wait(browser, lambda: "Trip to Rome" not in room_names(browser), message="the deleted group stayed")
    assert room_names(alice) == ["Bob"]
    assert alice.find_element(By.ID, "room-title").text == "Pick a room"
