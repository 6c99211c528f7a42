"""Two headless Chromium browsers against a Parley cluster behind HAProxy: scripts/cluster up with one API node and
two WS nodes, on loopback, in a folder of its own. Each browser asks HAProxy for a different WS node (?node=ws-N),
which HAProxy honours while that node is up."""

import os
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from local_cluster import ROOT, Cluster  # noqa: E402

SCREENSHOTS = os.path.join(ROOT, ".test", "screenshots")

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
]


@pytest.fixture(scope="session")
def cluster(request):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    # The nodes' logs are kept beside the screenshots, whatever the outcome.
    def keep_logs(cluster):
        for name in ("api-1", "ws-1", "ws-2", "haproxy"):
            with open(os.path.join(SCREENSHOTS, f"{name}.log"), "w") as file:
                file.write(cluster.run("logs", name))

    cluster = Cluster(prefix="parley-browser-")
    # Files in the cluster's own folder, which every node shares.
    cluster.environment["PARLEY_FILES"] = f"dir:{os.path.join(cluster.folder, 'files')}"
    # Every story signs up people of its own, all from 127.0.0.1: more than the 20 an hour one address may register.
    cluster.environment["PARLEY_REGISTER_LIMIT"] = "1000"
    with cluster.running(request, "--api", "1", "--ws", "2", before_down=keep_logs):
        yield cluster


# Run in every document before its own scripts: keeps what the Content-Security-Policy refused, beside the console's
# words for it (Chromium 156 writes "… violates the following Content Security Policy directive …"; older ones
# "Refused to …").
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
});
"""


def chromium():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CSP_VIOLATIONS})
    browser.console_entries = []
    return browser


def console(browser):
    """Every console entry of the browser's so far: WebDriver hands each out once, so they are kept here."""
    browser.console_entries.extend(browser.get_log("browser"))
    return browser.console_entries


@pytest.fixture(scope="session")
def browsers():
    os.makedirs(SCREENSHOTS, exist_ok=True)
    opened = [chromium(), chromium()]
    try:
        yield opened
    finally:
        for number, browser in enumerate(opened):
            with open(os.path.join(SCREENSHOTS, f"browser-{number + 1}-console.log"), "w") as file:
                for entry in console(browser):
                    file.write(f"{entry['level']} {entry['message']}\n")
            browser.quit()
