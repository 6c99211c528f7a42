"""Two people for a browser story: Alice on ws-1 and Bob on ws-2, in fresh browsers, signed up, contacts, and each
with their direct room open; and what every story shares besides: an axe-core check of what a page shows, and the
browsers left fresh and at desktop size after each test, whatever its outcome, for the next story."""

import os
import uuid

import pytest
from axe_selenium_python import Axe
from selenium.webdriver.common.by import By

from conftest import SCREENSHOTS
from test_browser import click, csp_violations, open_room, sign_up, wait
from test_files import fresh

DESKTOP = (1280, 800)
PHONE = (390, 844)


@pytest.fixture(autouse=True)
def fresh_afterwards(cluster, browsers):
    """Leaves both browsers signed out, with nothing stored, at desktop size; nothing the story did may have broken
    the Content-Security-Policy."""
    yield
    violations = [csp_violations(browser) for browser in browsers]
    for browser in browsers:
        browser.set_window_size(*DESKTOP)
        fresh(browser, cluster)
    assert violations == [[], []]


def pair(cluster, browsers, tag, names=("Alice", "Bob")):
    """Signs up Alice and Bob (display names `names`), makes them contacts, and opens their room on both sides.
    Answers their usernames."""
    alice, bob = browsers
    for browser in browsers:
        browser.set_window_size(*DESKTOP)
        fresh(browser, cluster)
    suffix = uuid.uuid4().hex[:6]
    usernames = (f"alice{tag}{suffix}", f"bob{tag}{suffix}")
    sign_up(alice, cluster.url("ws-1"), usernames[0], names[0])
    sign_up(bob, cluster.url("ws-2"), usernames[1], names[1])
    alice.find_element(By.ID, "search").send_keys(usernames[1])
    click(alice, lambda: next(iter(alice.find_elements(By.CSS_SELECTOR, f"[data-add='{usernames[1]}']")), None))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == names[1])
    open_room(bob, names[0])
    return usernames


def shot(browser, name):
    browser.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def axe_violations(browser, impacts=("serious", "critical")):
    """axe-core's violations of what the page shows now, of the given impacts, as "rule: target" lines."""
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')}"
        for violation in results["violations"]
        if violation["impact"] in impacts
        for node in violation["nodes"]
    ]


def visible(browser, element_id):
    elements = browser.find_elements(By.ID, element_id)
    return bool(elements) and elements[0].is_displayed()


def toast_text(browser):
    box = browser.find_element(By.ID, "toast")
    return box.text if box.is_displayed() else ""


# The message list as each message reads: [seq, text, quote's author, quote's words, "(edited)" shown, chips], read in
# one script, since a message's node is replaced as it changes.
MESSAGES = """
return [...document.querySelectorAll('#messages > li.message[data-seq]')].map((li) => ({
  seq: Number(li.dataset.seq), text: li.querySelector(':scope > .text')?.innerText ?? null,
  quote: li.querySelector(':scope > .quote') ? [li.querySelector('.quote-author').innerText, li.querySelector('.quote-text').innerText] : null,
  edited: Boolean(li.querySelector('.meta .edited')),
  chips: [...li.querySelectorAll('.reactions button')].map((b) => [b.innerText, b.getAttribute('aria-pressed'), b.getAttribute('aria-label')]),
}));
"""


def messages(browser):
    return browser.execute_script(MESSAGES)


def message_with(browser, text):
    """The message (as `messages` reads it) whose text is `text`, or None."""
    return next((m for m in messages(browser) if m["text"] == text), None)


def choose_action(browser, text, action):
    """Opens the actions menu of the message that reads `text` and chooses `action`: a menu item's words or label."""
    browser.execute_script(
        """const li = [...document.querySelectorAll('#messages > li.message')].find((li) => li.querySelector(':scope > .text')?.innerText === arguments[0]);
        li.querySelector(':scope > button.more').click();""",
        text,
    )
    items = "#messages [role=menu] [role=menuitem]"
    click(browser, lambda: next((e for e in browser.find_elements(By.CSS_SELECTOR, items) if action in (e.text, e.get_attribute("aria-label"))), None))
