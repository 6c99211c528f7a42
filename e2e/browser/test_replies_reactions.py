"""Replies, edits and reactions in real headless Chromium across two WS nodes: a reply quotes the message it answers
(a bar above the composer says so first, and Escape takes it back), and pressing the quote shows that message; the
sender edits their own message, in the composer, and both read it "(edited)", with the quote following; reactions
show as chips, counted by who gave them, pressed for one's own, and taken back by pressing; all of it live, each
change redrawing that message's node alone."""

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import PHONE, toast_text, choose_action, fresh_afterwards, message_with, messages, pair, shot, visible  # noqa: F401
from test_browser import click, send, texts, wait

MARK_NODES = "for (const li of document.querySelectorAll('#messages > li.message')) li.drawnBefore = true"
KEPT_NODES = "return [...document.querySelectorAll('#messages > li.message')].map((li) => [li.querySelector('.text')?.innerText, li.drawnBefore === true])"


def composing(browser):
    return browser.find_element(By.ID, "composing-text").text if visible(browser, "composing") else None


def test_reply_edit_and_react(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "q")
    send(alice, "Lunch at noon?")
    send(alice, "Or later, if you are busy.")
    wait(bob, lambda: texts(bob) == ["Lunch at noon?", "Or later, if you are busy."])

    # Bob answers the first: the bar says what he answers; Escape takes it back, and Reply again brings it.
    choose_action(bob, "Lunch at noon?", "Reply")
    wait(bob, lambda: composing(bob) == "Replying to Alice: Lunch at noon?", message=f"the bar says {composing(bob)!r}")
    assert bob.switch_to.active_element.get_attribute("id") == "message-input"
    bob.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(bob, lambda: composing(bob) is None, message="Escape did not cancel the reply")
    choose_action(bob, "Lunch at noon?", "Reply")
    wait(bob, lambda: composing(bob) is not None)
    shot(bob, "reply-composing")
    send(bob, "Yes! Where?")
    wait(bob, lambda: composing(bob) is None)
    for browser, author in ((alice, "You"), (bob, "Alice")):
        wait(browser, lambda: (message_with(browser, "Yes! Where?") or {}).get("quote") == [author, "Lunch at noon?"], message="no quote on the reply")

    # Pressing the quote shows the answered message, marked a moment and focused.
    alice.execute_script("document.querySelector('#messages .quote').click()")
    wait(alice, lambda: alice.execute_script("return document.activeElement.matches('li.message.flash') && document.activeElement.querySelector('.text').innerText") == "Lunch at noon?")

    # Alice edits her message in the composer; her draft waits meanwhile. Escape cancels and gives the draft back.
    box = alice.find_element(By.ID, "message-input")
    box.send_keys("half a draft")
    choose_action(alice, "Lunch at noon?", "Edit")
    wait(alice, lambda: composing(alice) == "Editing your message" and box.get_attribute("value") == "Lunch at noon?")
    assert alice.find_element(By.ID, "send").text == "Save"
    box.send_keys(Keys.ESCAPE)
    wait(alice, lambda: composing(alice) is None and box.get_attribute("value") == "half a draft", message="the draft did not come back")
    bob.execute_script(MARK_NODES)
    choose_action(alice, "Lunch at noon?", "Edit")
    wait(alice, lambda: box.get_attribute("value") == "Lunch at noon?")
    box.send_keys(Keys.BACKSPACE * len("noon?"), "one?", Keys.ENTER)
    for browser in browsers:
        wait(browser, lambda: (message_with(browser, "Lunch at one?") or {}).get("edited"), message="the edit did not show")
    wait(alice, lambda: box.get_attribute("value") == "half a draft")
    # Bob's page replaced that message's node and the reply's (whose quote follows the edit), and kept the other.
    wait(bob, lambda: message_with(bob, "Yes! Where?")["quote"] == ["Alice", "Lunch at one?"], message="the quote did not follow the edit")
    assert bob.execute_script(KEPT_NODES) == [["Lunch at one?", False], ["Or later, if you are busy.", True], ["Yes! Where?", False]]
    # Neither Bob's message nor a deleted one offers Alice an edit.
    bob_menu = alice.execute_script(
        """const li = [...document.querySelectorAll('#messages > li.message')].find((li) => li.querySelector('.text').innerText === 'Yes! Where?');
        li.querySelector('button.more').click();
        return [...document.querySelectorAll('#messages [role=menuitem]')].map((e) => e.textContent);"""
    )
    assert bob_menu == ["👍", "❤️", "😂", "🎉", "😮", "😢", "Reply", "Copy text"], bob_menu
    alice.switch_to.active_element.send_keys(Keys.ESCAPE)

    # Reactions: Bob gives 👍 from the menu, Alice adds hers by pressing the chip; each is counted once.
    choose_action(bob, "Lunch at one?", "React with 👍")
    wait(bob, lambda: message_with(bob, "Lunch at one?")["chips"] == [["👍 1", "true", "👍 1 reaction, including you; press to remove yours"]])
    wait(alice, lambda: message_with(alice, "Lunch at one?")["chips"] == [["👍 1", "false", "👍 1 reaction; press to add yours"]], message="Alice did not see Bob's reaction")
    alice.execute_script("document.querySelector('#messages .reactions button').click()")
    for browser in browsers:
        wait(browser, lambda: [c[:2] for c in message_with(browser, "Lunch at one?")["chips"]] == [["👍 2", "true"]], message="the count is not 2")
    assert message_with(alice, "Lunch at one?")["chips"][0][2] == "👍 2 reactions, including you; press to remove yours"
    choose_action(alice, "Lunch at one?", "React with 🎉")
    wait(bob, lambda: [c[0] for c in message_with(bob, "Lunch at one?")["chips"]] == ["👍 2", "🎉 1"])
    # Up in her empty composer edits Alice's last message; Escape leaves it as it was.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(Keys.ARROW_UP)
    wait(alice, lambda: composing(alice) == "Editing your message" and box.get_attribute("value") == "Or later, if you are busy.")
    box.send_keys(Keys.ESCAPE)
    wait(alice, lambda: composing(alice) is None and box.get_attribute("value") == "")

    # Alice answers Bob's reply in turn, and Bob loves it.
    choose_action(alice, "Yes! Where?", "Reply")
    send(alice, "The café on the corner.")
    wait(bob, lambda: (message_with(bob, "The café on the corner.") or {}).get("quote") == ["You", "Yes! Where?"])
    choose_action(bob, "The café on the corner.", "React with ❤️")
    wait(alice, lambda: [c[0] for c in message_with(alice, "The café on the corner.")["chips"]] == ["❤️ 1"])
    alice.execute_script("document.activeElement.blur()")
    shot(alice, "chat-replies-reactions")
    # Bob takes his 👍 back by pressing his chip.
    bob.execute_script("document.querySelector('#messages .reactions button[aria-pressed=true]').click()")
    for browser in browsers:
        wait(browser, lambda: [c[0] for c in message_with(browser, "Lunch at one?")["chips"]] == ["👍 1", "🎉 1"], message=f"the reaction was not taken back: {message_with(browser, 'Lunch at one?')} {toast_text(bob)}")

    # A reaction heard twice counts once: the count is the number of people who gave it.
    counts = alice.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import('/js/store.js').then(({ Store }) => {
          const store = new Store();
          store.openHistory('r');
          store.addMessages('r', [{ room: 'r', seq: 1, sender: 'a', text: 'x', sentAt: new Date().toISOString() }]);
          const count = () => (store.message('r', 1).reactions ?? []).map((r) => [r.emoji, r.count]);
          const seen = [];
          store.react('r', 1, 'b', '👍', true); store.react('r', 1, 'b', '👍', true); seen.push(count());
          store.react('r', 1, 'c', '👍', true); seen.push(count());
          store.react('r', 1, 'b', '👍', false); store.react('r', 1, 'b', '👍', false); seen.push(count());
          store.react('r', 1, 'c', '👍', false); seen.push(count());
          done(seen);
        });"""
    )
    assert counts == [[["👍", 1]], [["👍", 2]], [["👍", 1]], []], counts

    # At phone size the quote and the chips fit the bubble.
    bob.set_window_size(*PHONE)
    wait(bob, lambda: visible(bob, "message-input"))
    overflow = bob.execute_script(
        "return [...document.querySelectorAll('#messages .quote, #messages .reactions')].some((e) => e.getBoundingClientRect().right > innerWidth)"
    )
    assert not overflow
    shot(bob, "phone-conversation")

    # Alice deletes the message Bob answered: his quote says so.
    choose_action(alice, "Lunch at one?", "Delete…")
    click(alice, lambda: alice.find_element(By.ID, "confirm-yes"))
    wait(bob, lambda: message_with(bob, "Yes! Where?")["quote"] == ["Alice", "Message deleted"], message="the quote did not say the message was deleted")
