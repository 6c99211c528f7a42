"""Accessibility of the web client's main views, in real headless Chromium: axe-core (axe-selenium-python) finds no
violation of serious or critical impact in the sign-in and sign-up views, the room list with a conversation (with a
reply and reactions, a message's actions, the reply's bar), the search panel with results, and a call, at desktop and
phone size; and what axe does not measure is measured here: field borders at 3:1 against what
they sit on, and a focus ring on what the keyboard focuses."""

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import DESKTOP, PHONE, axe_violations, choose_action, fresh_afterwards, message_with, pair, shot, visible  # noqa: F401
from test_browser import click, remote_video_width, send, texts, wait
from test_files import fresh

# The contrast of each shown field's border against the background behind the field (WCAG's formula).
BORDER_CONTRAST = """
const luminance = (colour) => {
  const [r, g, b] = colour.match(/[\\d.]+/g).slice(0, 3).map((v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const backdrop = (element) => {
  for (let e = element.parentElement; e; e = e.parentElement) {
    const colour = getComputedStyle(e).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(colour) && colour !== 'transparent') return colour;
  }
  return 'rgb(255, 255, 255)';
};
return [...document.querySelectorAll('input:not([type=file]):not([type=checkbox]), textarea, select')].filter((e) => e.getClientRects().length).map((e) => {
  const [a, b] = [luminance(getComputedStyle(e).borderTopColor), luminance(backdrop(e))];
  return [e.id || e.name, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""

FOCUS_RING = "const s = getComputedStyle(document.activeElement); return [document.activeElement.id, s.outlineStyle, parseFloat(s.outlineWidth)]"


def no_serious_violations(browser, view):
    violations = axe_violations(browser)
    assert violations == [], f"{view}:\n" + "\n".join(violations)


def weak_borders(browser):
    return [(field, round(ratio, 2)) for field, ratio in browser.execute_script(BORDER_CONTRAST) if ratio < 3]


def test_the_main_views_have_no_serious_axe_violations(cluster, browsers):
    alice, bob = browsers
    fresh(alice, cluster)
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        alice.set_window_size(*size)
        alice.get(cluster.url("ws-1"))
        wait(alice, lambda: visible(alice, "sign-in-form"))
        no_serious_violations(alice, f"sign-in ({label})")
        assert weak_borders(alice) == []
        click(alice, lambda: alice.find_element(By.ID, "to-sign-up"))
        wait(alice, lambda: visible(alice, "sign-up-form"))
        # With errors shown beside the fields, too.
        alice.find_element(By.ID, "sign-up").click()
        wait(alice, lambda: visible(alice, "sign-up-username-error"))
        no_serious_violations(alice, f"sign-up ({label})")
        assert weak_borders(alice) == []
    alice.set_window_size(*DESKTOP)

    # A keyboard focus is drawn: a solid ring at least 2 pixels wide.
    alice.find_element(By.ID, "sign-up-name").send_keys(Keys.SHIFT, Keys.TAB)
    ring = alice.execute_script(FOCUS_RING)
    assert ring[0] == "sign-up-username" and ring[1] == "solid" and ring[2] >= 2, ring

    # The rooms and a conversation with messages from both, and a message's actions menu open.
    pair(cluster, browsers, "x")
    send(alice, "Hello, see https://example.com for the plan.")
    send(bob, "Got it.")
    send(bob, "Thanks!")
    wait(alice, lambda: texts(alice)[-1:] == ["Thanks!"])
    # A reply, with its quote, and reactions, one of them Alice's.
    choose_action(alice, "Got it.", "Reply")
    send(alice, "Great, see you then.")
    choose_action(bob, "Got it.", "React with 🎉")
    choose_action(alice, "Got it.", "React with 👍")
    wait(alice, lambda: len(message_with(alice, "Got it.")["chips"]) == 2 and message_with(alice, "Great, see you then.")["quote"])
    no_serious_violations(alice, "rooms and chat (desktop)")
    assert weak_borders(alice) == []
    alice.execute_script("document.querySelector('#messages > li.message button.more').click()")
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, "#messages [role=menu]"))
    no_serious_violations(alice, "message actions (desktop)")
    alice.switch_to.active_element.send_keys(Keys.ESCAPE)
    # The reply's bar above the composer, and the search panel with its results.
    choose_action(alice, "Thanks!", "Reply")
    wait(alice, lambda: visible(alice, "composing"))
    no_serious_violations(alice, "replying (desktop)")
    alice.switch_to.active_element.send_keys(Keys.ESCAPE)
    click(alice, lambda: alice.find_element(By.ID, "open-search"))
    alice.find_element(By.ID, "message-query").send_keys("see", Keys.ENTER)
    wait(alice, lambda: alice.find_elements(By.CSS_SELECTOR, "#message-results mark"))
    no_serious_violations(alice, "search (desktop)")
    assert weak_borders(alice) == []
    alice.find_element(By.ID, "message-query").send_keys(Keys.ESCAPE)
    bob.set_window_size(*PHONE)
    no_serious_violations(bob, "chat (phone)")
    click(bob, lambda: bob.find_element(By.ID, "back"))
    wait(bob, lambda: visible(bob, "rooms"))
    no_serious_violations(bob, "rooms (phone)")
    bob.set_window_size(*DESKTOP)
    click(bob, lambda: next(b for b in bob.find_elements(By.CSS_SELECTOR, "button.room") if "Alice" in b.text))

    # A call: ringing on both sides, then connected.
    click(alice, lambda: alice.find_element(By.ID, "call-button"))
    wait(alice, lambda: visible(alice, "call"))
    wait(bob, lambda: visible(bob, "incoming"))
    no_serious_violations(alice, "outgoing call (desktop)")
    no_serious_violations(bob, "incoming call (desktop)")
    click(bob, lambda: bob.find_element(By.ID, "accept-call"))
    for browser in browsers:
        wait(browser, lambda: remote_video_width(browser) > 0, timeout=30, message="no remote video")
    no_serious_violations(alice, "call (desktop)")
    bob.set_window_size(*PHONE)
    wait(bob, lambda: visible(bob, "show-chat"))
    no_serious_violations(bob, "call (phone)")
    shot(bob, "a11y-call-phone")
    click(alice, lambda: alice.find_element(By.ID, "end-call"))
    for browser in browsers:
        wait(browser, lambda: not visible(browser, "call"))
