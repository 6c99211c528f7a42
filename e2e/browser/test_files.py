"""Files in the web client, in real headless Chromium: Alice (on ws-1) attaches an image with the attach button,
drops another onto the page and pastes a document into the composer; Bob (on ws-2) sees the images inline and saves
the document byte for byte. A slow upload shows its progress. A file that could not go while the API node was down
goes with the retry button. All of it under the strict Content-Security-Policy."""

import base64
import os
import struct
import time
import uuid
import zlib

from selenium.webdriver.common.by import By

from conftest import SCREENSHOTS
from test_browser import click, csp_violations, open_room, send, sign_up, wait

# A DataTransfer holding one file, made in the page from base64: arguments[0] the bytes, [1] the name, [2] the type.
DATA_TRANSFER = """
const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], arguments[1], { type: arguments[2] }));
"""

DROP = DATA_TRANSFER + """
const target = document.querySelector("#messages");
for (const type of ["dragenter", "dragover", "drop"]) {
  target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
}
"""

PASTE = DATA_TRANSFER + """
document.querySelector("#message-input").dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
"""

# Records the values of the progress bars of pending messages, every 20 ms.
WATCH_PROGRESS = """
window.progressSeen = [];
window.progressWatch = setInterval(() => {
  for (const bar of document.querySelectorAll("#messages li.pending progress")) window.progressSeen.push(bar.value);
}, 20);
"""

# The natural widths of the images Bob's conversation shows, once loaded.
IMAGE_WIDTHS = "return [...document.querySelectorAll('#messages figure.file.image img')].map((img) => img.complete ? img.naturalWidth : 0)"


def png(width, height, rgb=(40, 120, 200)):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def fresh(browser, cluster):
    """The browser with no session: no cookies, no storage. Cookies are cleared once the client has left the page:
    a page that renews its session as it starts would set one again after the clear."""
    browser.get(cluster.url("ws-1"))
    browser.execute_script("localStorage.clear(); sessionStorage.clear()")
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    # And storage once more: the page may have finished renewing its session, and said so there, as it left.
    browser.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": cluster.base_url, "storageTypes": "local_storage"})


def sent(browser):
    """Whether every message of this browser's has been stored (none pending)."""
    return not browser.find_elements(By.CSS_SELECTOR, "#messages li.pending")


def test_alice_sends_images_and_a_document_and_bob_sees_and_saves_them(cluster, browsers, tmp_path):
    alice, bob = browsers
    for browser in browsers:
        fresh(browser, cluster)
    suffix = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alicef{suffix}", f"bobf{suffix}"
    sign_up(alice, cluster.url("ws-1"), alice_name, "Alice")
    sign_up(bob, cluster.url("ws-2"), bob_name, "Bob")
    assert alice.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-1"
    assert bob.find_element(By.TAG_NAME, "body").get_attribute("data-node") == "ws-2"
    alice.find_element(By.ID, "search").send_keys(bob_name)
    click(alice, lambda: next(iter(alice.find_elements(By.CSS_SELECTOR, f"[data-add='{bob_name}']")), None))
    wait(alice, lambda: alice.find_element(By.ID, "room-title").text == "Bob")
    send(alice, "Files coming.")
    wait(alice, lambda: sent(alice))
    open_room(bob, "Alice")

    # The attach button's file input: an image and its caption go as one message.
    photo = os.path.join(tmp_path, "photo.png")
    with open(photo, "wb") as file:
        file.write(png(64, 48))
    alice.find_element(By.ID, "file-input").send_keys(photo)
    wait(alice, lambda: "photo.png" in alice.find_element(By.ID, "attachments").text, message="the file is not in the tray")
    send(alice, "A photo.")
    wait(bob, lambda: bob.execute_script(IMAGE_WIDTHS) == [64], message="Bob does not see the photo")
    assert alice.find_element(By.ID, "attachments").get_attribute("hidden") is not None

    # An image dropped onto the conversation, sent alone: wider than the conversation, it is scaled to fit its message.
    alice.execute_script(DROP, base64.b64encode(png(1600, 300, (200, 60, 60))).decode(), "dropped.png", "image/png")
    wait(alice, lambda: "dropped.png" in alice.find_element(By.ID, "attachments").text, message="the drop was not taken")
    alice.find_element(By.ID, "send").click()
    wait(bob, lambda: bob.execute_script(IMAGE_WIDTHS) == [64, 1600], message="Bob does not see the dropped image")
    wait(alice, lambda: alice.execute_script(IMAGE_WIDTHS) == [64, 1600], message="Alice does not see her images")
    shown, message, conversation = bob.execute_script(
        """const img = document.querySelectorAll('#messages figure.file.image img')[1];
        return [img, img.closest('li'), document.querySelector('#messages')].map((e) => e.getBoundingClientRect().width);"""
    )
    assert 0 < shown < message < conversation, (shown, message, conversation)

    # A document pasted into the composer is a chip with its name and size, and Bob saves it byte for byte.
    document = ("Minutes of the meeting\n" * 200).encode()
    alice.execute_script(PASTE, base64.b64encode(document).decode(), "minutes.txt", "text/plain")
    wait(alice, lambda: "minutes.txt" in alice.find_element(By.ID, "attachments").text, message="the paste was not taken")
    send(alice, "And the minutes.")
    chip = "#messages li.message .file.chip"
    wait(bob, lambda: "minutes.txt" in bob.find_element(By.CSS_SELECTOR, chip).text, message="Bob has no chip for the document")
    assert "4.5 KB" in bob.find_element(By.CSS_SELECTOR, chip).text
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    bob.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    bob.find_element(By.CSS_SELECTOR, f"{chip} button.download").click()
    saved = os.path.join(downloads, "minutes.txt")
    wait(bob, lambda: os.path.exists(saved) and open(saved, "rb").read() == document, message=f"the download: {os.listdir(downloads)}")
    bob.save_screenshot(os.path.join(SCREENSHOTS, "files.png"))

    # A slow upload (the browser held to 512 KB/s) moves its progress bar from 0 to 1, forwards only.
    alice.execute_cdp_cmd("Network.enable", {})
    throttled = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 512 * 1024}
    alice.execute_cdp_cmd("Network.emulateNetworkConditions", throttled)
    try:
        alice.execute_script(WATCH_PROGRESS)
        alice.execute_script(DROP, base64.b64encode(os.urandom(1 << 20)).decode(), "large.bin", "application/octet-stream")
        alice.find_element(By.ID, "send").click()
        wait(alice, lambda: alice.execute_script("return window.progressSeen.some((v) => v > 0.2 && v < 0.8)"), message="no progress shown")
        alice.save_screenshot(os.path.join(SCREENSHOTS, "files-uploading.png"))
        wait(alice, lambda: sent(alice), timeout=30)
    finally:
        alice.execute_cdp_cmd("Network.emulateNetworkConditions", {**throttled, "uploadThroughput": -1})
        alice.execute_cdp_cmd("Network.disable", {})
    seen = alice.execute_script("clearInterval(window.progressWatch); return window.progressSeen")
    assert seen == sorted(seen) and seen[0] == 0, seen
    wait(bob, lambda: "large.bin" in bob.find_elements(By.CSS_SELECTOR, chip)[-1].text, message="Bob has no chip for the large file")

    # While the API node is down the file cannot go: the message fails, with a retry that sends it once the node is back.
    cluster.run("kill", "api-1")
    alice.find_element(By.ID, "file-input").send_keys(photo)
    send(alice, "Sent again.")
    wait(alice, lambda: alice.find_element(By.CSS_SELECTOR, "#messages li.pending [data-state='failed']"), message="the upload did not fail")
    cluster.run("restart", "api-1")
    deadline = time.monotonic() + 20
    while cluster.get("/api/turn")[0] == 503:
        assert time.monotonic() < deadline, "HAProxy never took api-1 back"
        time.sleep(0.2)
    click(alice, lambda: alice.find_element(By.CSS_SELECTOR, "#messages li.pending button.retry"))
    wait(bob, lambda: bob.execute_script(IMAGE_WIDTHS) == [64, 1600, 64], message="the retried upload never came")
    wait(alice, lambda: sent(alice))
    texts = bob.execute_script("return [...document.querySelectorAll('#messages li.message .text')].map((e) => e.innerText)")
    assert texts == ["Files coming.", "A photo.", "And the minutes.", "Sent again."]

    for browser in browsers:
        assert csp_violations(browser) == []
