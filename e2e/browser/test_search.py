"""Searching messages in real headless Chromium across two WS nodes: the sidebar's Search opens a panel of results,
each with its room, sender and time and the words found marked (as <mark> elements over the text, never markup);
"Load more" pages on; a search that finds nothing says so; choosing a result opens its room at that message, loading
the history up to it when it is older than what the page holds; and the panel fits a phone."""

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pair import DESKTOP, PHONE, fresh_afterwards, pair, shot, visible  # noqa: F401
from test_browser import click, send, texts, wait

RESULTS = """
return [...document.querySelectorAll('#message-results button.result')].map((b) => ({
  room: b.querySelector('.result-room').innerText, sender: b.querySelector('.result-sender').innerText,
  time: b.querySelector('time').innerText, text: b.querySelector('.result-text').innerText,
  marks: [...b.querySelectorAll('.result-text mark')].map((m) => m.textContent),
  elements: [...b.querySelectorAll('.result-text *')].map((e) => e.tagName),
}));
"""

FILLERS = 55


def results(browser):
    return browser.execute_script(RESULTS)


def search(browser, words):
    field = browser.find_element(By.ID, "message-query")
    field.clear()
    field.send_keys(words, Keys.ENTER)


def status(browser):
    return browser.find_element(By.ID, "message-search-status").text


def test_search_results_paging_and_opening_a_result(cluster, browsers):
    alice, bob = browsers
    pair(cluster, browsers, "s")
    send(bob, "The quarterly budget is ready <b>now</b>")
    send(alice, "Budget meeting moved to Friday")
    send(alice, "budgeting tips, for later")
    for n in range(1, FILLERS + 1):
        send(alice, f"filler {n}")
    wait(bob, lambda: texts(bob)[-1:] == [f"filler {FILLERS}"], timeout=60, message="the fillers did not arrive")

    # After a reload Bob's page holds only the newest page of the room: the budget's message is not in it.
    bob.refresh()
    wait(bob, lambda: texts(bob)[-1:] == [f"filler {FILLERS}"])
    assert "The quarterly budget is ready <b>now</b>" not in texts(bob)

    # Search: the words found are marked where they start a word, the markup in a message stays text.
    click(bob, lambda: bob.find_element(By.ID, "open-search"))
    wait(bob, lambda: visible(bob, "message-query") and not visible(bob, "rooms"))
    assert bob.switch_to.active_element.get_attribute("id") == "message-query"
    search(bob, "budget")
    wait(bob, lambda: len(results(bob)) == 3, message=f"found {results(bob)}")
    found = {r["text"]: r for r in results(bob)}
    assert set(found) == {"The quarterly budget is ready <b>now</b>", "Budget meeting moved to Friday", "budgeting tips, for later"}, found
    assert found["Budget meeting moved to Friday"]["marks"] == ["Budget"]
    assert found["budgeting tips, for later"]["marks"] == ["budget"]
    assert all(r["elements"] == ["MARK"] for r in found.values()), found
    quarterly = found["The quarterly budget is ready <b>now</b>"]
    assert (quarterly["room"], quarterly["sender"]) == ("Alice", "You") and quarterly["time"], quarterly
    assert found["Budget meeting moved to Friday"]["sender"] == "Alice"
    assert status(bob) == "3 messages found"
    assert not visible(bob, "more-results")
    shot(bob, "search-results")

    # Two words: only the messages that hold both.
    search(bob, "budget fri")
    wait(bob, lambda: [r["text"] for r in results(bob)] == ["Budget meeting moved to Friday"])
    assert results(bob)[0]["marks"] == ["Budget", "Fri"]

    # Nothing found says so.
    search(bob, "zebra")
    wait(bob, lambda: status(bob) == "No messages match" and results(bob) == [])

    # Many found: a page, then "Load more" until the end.
    search(bob, "filler")
    wait(bob, lambda: len(results(bob)) == 20)
    assert visible(bob, "more-results")
    click(bob, lambda: bob.find_element(By.ID, "more-results"))
    wait(bob, lambda: len(results(bob)) == 40)
    click(bob, lambda: bob.find_element(By.ID, "more-results"))
    wait(bob, lambda: len(results(bob)) == FILLERS)
    wait(bob, lambda: not visible(bob, "more-results"))
    assert len({r["text"] for r in results(bob)}) == FILLERS

    # Choosing the budget's message opens the room there: the history up to it is loaded, with no gap, and the
    # message is in view, marked and focused.
    search(bob, "quarterly")
    wait(bob, lambda: len(results(bob)) == 1)
    click(bob, lambda: bob.find_element(By.CSS_SELECTOR, "#message-results button.result"))
    wait(bob, lambda: bob.execute_script("return document.activeElement.matches('li.message.flash') && document.activeElement.querySelector('.text').innerText") == "The quarterly budget is ready <b>now</b>", message="the result was not shown")
    in_view = bob.execute_script(
        """const m = document.activeElement.getBoundingClientRect(), l = document.getElementById('messages').getBoundingClientRect();
        return m.top >= l.top && m.bottom <= l.bottom;"""
    )
    assert in_view
    seqs = bob.execute_script("return [...document.querySelectorAll('#messages > li[data-seq]')].map((li) => Number(li.dataset.seq))")
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[-1] - seqs[0] >= FILLERS, seqs

    # The mark goes after a moment. Another result, of a message now loaded: the conversation moves to it.
    wait(bob, lambda: not bob.find_elements(By.CSS_SELECTOR, "#messages .flash"), message="the mark stayed")
    search(bob, "budget")
    wait(bob, lambda: len(results(bob)) == 3)
    click(bob, lambda: next(b for b in bob.find_elements(By.CSS_SELECTOR, "#message-results button.result") if "Friday" in b.text))
    wait(bob, lambda: bob.execute_script("return document.activeElement.matches('li.message.flash') && document.activeElement.querySelector('.text').innerText") == "Budget meeting moved to Friday")
    shot(bob, "search")

    # On a phone the panel takes the sidebar's place; a result opens the conversation, and back leads to the results.
    bob.set_window_size(*PHONE)
    click(bob, lambda: bob.find_element(By.ID, "back"))
    wait(bob, lambda: visible(bob, "message-search"))
    search(bob, "budget")
    wait(bob, lambda: len(results(bob)) == 3)
    shot(bob, "search-phone")
    width = bob.execute_script("return document.getElementById('message-search').getBoundingClientRect().width")
    assert width <= 390
    click(bob, lambda: next(b for b in bob.find_elements(By.CSS_SELECTOR, "#message-results button.result") if "Friday" in b.text))
    wait(bob, lambda: visible(bob, "message-input") and not visible(bob, "message-search"))
    bob.set_window_size(*DESKTOP)

    # Escape closes the panel and gives back the rooms, with the focus on the Search button.
    bob.find_element(By.ID, "message-query").send_keys(Keys.ESCAPE)
    wait(bob, lambda: visible(bob, "rooms") and not visible(bob, "message-search"))
    assert bob.switch_to.active_element.get_attribute("id") == "open-search"
