"""Signing in and signing up as two views of the web client, at desktop and phone size: sign-in asks only for a
username and a password, sign-up also for a display name, with the server's rules shown before anything is typed. A
link switches between them. What is wrong is said beside the field it is about, whether this page found it or the
server did (a taken username, a wrong password), and never only in a toast."""

import uuid

from selenium.webdriver.common.by import By

from pair import DESKTOP, PHONE, fresh_afterwards, shot, toast_text, visible  # noqa: F401
from test_browser import click, wait
from test_files import fresh


def field_error(browser, input_id):
    """The words beside a field, if shown, and whether the field is marked invalid and described by them."""
    note = browser.find_element(By.ID, f"{input_id}-error")
    field = browser.find_element(By.ID, input_id)
    described = f"{input_id}-error" in (field.get_attribute("aria-describedby") or "").split()
    return note.text if note.is_displayed() and described and field.get_attribute("aria-invalid") == "true" else ""


def below(browser, upper_id, lower_id):
    """Whether `lower` sits right under `upper`, within 60 pixels: beside it, not far away."""
    upper = browser.find_element(By.ID, upper_id).rect
    lower = browser.find_element(By.ID, lower_id).rect
    return 0 <= lower["y"] - (upper["y"] + upper["height"]) < 60


def test_sign_in_and_sign_up_are_two_views_with_rules_and_errors_beside_their_fields(cluster, browsers):
    alice, bob = browsers
    for browser in browsers:
        fresh(browser, cluster)
    username = f"carol{uuid.uuid4().hex[:6]}"

    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        alice.set_window_size(*size)
        alice.get(cluster.url("ws-1"))
        wait(alice, lambda: visible(alice, "sign-in-form"), message="no sign-in view")
        # Sign-in asks for a username and a password, nothing more.
        fields = [e.get_attribute("name") for e in alice.find_elements(By.CSS_SELECTOR, "#sign-in-form input") if e.is_displayed()]
        assert fields == ["username", "password"], fields
        assert not visible(alice, "sign-up-form")
        shot(alice, f"auth-sign-in-{label}")

        # The link leads to sign-up, which shows its rules up front.
        click(alice, lambda: alice.find_element(By.ID, "to-sign-up"))
        wait(alice, lambda: visible(alice, "sign-up-form") and not visible(alice, "sign-in-form"))
        fields = [e.get_attribute("name") for e in alice.find_elements(By.CSS_SELECTOR, "#sign-up-form input") if e.is_displayed()]
        assert fields == ["username", "name", "password"], fields
        rules = alice.find_element(By.ID, "sign-up-form").text
        assert "3 to 32 characters" in rules and "a–z" in rules and "At least 8 characters" in rules and "1 to 64" in rules, rules
        assert alice.switch_to.active_element.get_attribute("id") == "sign-up-username"
        shot(alice, f"auth-sign-up-{label}")
        click(alice, lambda: alice.find_element(By.ID, "to-sign-in"))
        wait(alice, lambda: visible(alice, "sign-in-form"))
    alice.set_window_size(*DESKTOP)

    # What this page checks: each problem beside its own field, the others left clear.
    click(alice, lambda: alice.find_element(By.ID, "to-sign-up"))
    alice.find_element(By.ID, "sign-up-username").send_keys("no spaces allowed")
    alice.find_element(By.ID, "sign-up-password").send_keys("short")
    alice.find_element(By.ID, "sign-up").click()
    wait(alice, lambda: field_error(alice, "sign-up-username") and field_error(alice, "sign-up-password"), message="no errors beside the fields")
    assert "a–z" in field_error(alice, "sign-up-username")
    assert "at least 8" in field_error(alice, "sign-up-password")
    assert "Say what others should call you" in field_error(alice, "sign-up-name")
    assert below(alice, "sign-up-username", "sign-up-username-error")
    assert toast_text(alice) == ""
    # The focus goes to the first field at fault.
    assert alice.switch_to.active_element.get_attribute("id") == "sign-up-username"
    shot(alice, "auth-sign-up-errors")

    # A good sign-up goes through.
    for input_id, value in (("sign-up-username", username), ("sign-up-name", "Carol"), ("sign-up-password", "password123")):
        box = alice.find_element(By.ID, input_id)
        box.clear()
        box.send_keys(value)
    alice.find_element(By.ID, "sign-up").click()
    wait(alice, lambda: visible(alice, "app"), message="the sign-up did not go through")
    wait(alice, lambda: alice.find_element(By.ID, "me-username").text == f"@{username}")

    # What the server refuses, beside the field too: Bob takes a username that is taken…
    bob.get(cluster.url("ws-2"))
    wait(bob, lambda: visible(bob, "sign-in-form"))
    click(bob, lambda: bob.find_element(By.ID, "to-sign-up"))
    bob.find_element(By.ID, "sign-up-username").send_keys(username)
    bob.find_element(By.ID, "sign-up-name").send_keys("Not Carol")
    bob.find_element(By.ID, "sign-up-password").send_keys("password123")
    bob.find_element(By.ID, "sign-up").click()
    wait(bob, lambda: "taken" in field_error(bob, "sign-up-username"), message="a taken username was not said beside its field")
    assert field_error(bob, "sign-up-password") == "" and toast_text(bob) == ""
    shot(bob, "auth-sign-up-taken")

    # …and signs in with a wrong password: said beside the password, and the username he typed goes along.
    click(bob, lambda: bob.find_element(By.ID, "to-sign-in"))
    wait(bob, lambda: visible(bob, "sign-in-form"))
    assert bob.find_element(By.ID, "sign-in-username").get_attribute("value") == username
    bob.find_element(By.ID, "sign-in-password").send_keys("not her password")
    bob.find_element(By.ID, "sign-in").click()
    wait(bob, lambda: "Wrong username or password" in field_error(bob, "sign-in-password"), message="a wrong password was not said beside its field")
    assert toast_text(bob) == ""
    assert below(bob, "sign-in-password", "sign-in-password-error")
    # The right one signs in.
    box = bob.find_element(By.ID, "sign-in-password")
    box.clear()
    box.send_keys("password123")
    bob.find_element(By.ID, "sign-in").click()
    wait(bob, lambda: visible(bob, "app"), message="signing in failed")
    assert bob.find_element(By.ID, "me").text == "Carol"
    assert bob.find_element(By.ID, "me-username").text == f"@{username}"
