#!/usr/bin/env python3
"""Loads a page in headless Chromium, waits in real time until a JavaScript condition holds, then saves the
DOM and a screenshot. Chromium's --dump-dom with --virtual-time-budget races the page's websocket (virtual time
runs ahead of the daemon's real-time events), so this talks the DevTools protocol over --remote-debugging-pipe.

Usage: headless_page.py BROWSER URL DOM.html SHOT.png [--until JS] [--timeout SECONDS]
Exits 0 when the condition held (or none was given), 2 when it did not within the timeout (DOM and screenshot
are saved either way), 1 when the browser failed.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, binary, profile):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=1280,1500", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 "--no-first-run", "about:blank"]
        # The pipe protocol: Chromium reads commands on fd 3 and writes replies on fd 4, each ending in NUL.
        # Copies first, so that neither dup2 overwrites the other pipe's end when it already is fd 3 or 4.
        def wire():
            commands, replies = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(commands, 3)
            os.dup2(replies, 4)
        self.process = subprocess.Popen([binary, *flags], close_fds=False, preexec_fn=wire,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.out = os.fdopen(to_browser_w, "wb")
        self.inp = os.fdopen(from_browser_r, "rb")
        self.next_id = 0
        self.buffer = b""

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.out.write(json.dumps(message).encode() + b"\0")
        self.out.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self):
        while b"\0" not in self.buffer:
            chunk = self.inp.read1(65536)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("browser")
    parser.add_argument("url")
    parser.add_argument("dom")
    parser.add_argument("screenshot")
    parser.add_argument("--until", default="true", help="a JavaScript expression to wait for")
    parser.add_argument("--timeout", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(args.browser, profile)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            browser.call("Page.enable", session=session)
            browser.call("Page.navigate", {"url": args.url}, session=session)
            held = False
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                result = browser.call("Runtime.evaluate", {"expression": f"Boolean({args.until})",
                                                           "returnByValue": True}, session=session)
                if result.get("result", {}).get("value") is True:
                    held = True
                    break
                time.sleep(0.1)
            time.sleep(0.3)  # let a chart's pending redraw land in the screenshot
            html = browser.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                     "returnByValue": True}, session=session)
            with open(args.dom, "w") as f:
                f.write(html["result"]["value"])
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        except Exception as error:
            print(f"headless_page: {error}", file=sys.stderr)
            return 1
        finally:
            browser.close()
    return 0 if held else 2


if __name__ == "__main__":
    sys.exit(main())
