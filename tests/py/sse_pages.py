"""Opens seed 002's SSE pages in headless Chromium and waits for live values.

Usage: sse_pages.py sensor|dashboard BASE_URL SCREENSHOT

Prints one JSON line with what the page showed first and after the change; exits
non-zero (with a message) when the values never change.
"""

import json
import sys
import time

from browser import browser

TIMEOUT_MS = 15000


def sensor(page):
    read = lambda: (page.text_content("#temp"), page.text_content("#hum"))
    page.wait_for_function("document.getElementById('temp').textContent !== '--'", timeout=TIMEOUT_MS)
    first = read()
    # Readings are random: wait for the pair to differ from the first one shown.
    page.wait_for_function(
        """([t, h]) => document.getElementById('temp').textContent !== t
                   || document.getElementById('hum').textContent !== h""",
        arg=list(first),
        timeout=TIMEOUT_MS,
    )
    return {"first": first, "later": read()}


def dashboard(page):
    page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=TIMEOUT_MS)
    page.wait_for_function("document.querySelectorAll('#stock li').length === 4", timeout=TIMEOUT_MS)
    first_sales = int(page.text_content("#sales"))
    # A sale from the page itself, then the simulator's: sales and stock must move.
    page.click("button[data-product='Chips']")
    page.wait_for_function(
        "n => Number(document.getElementById('sales').textContent) >= n + 2",
        arg=first_sales,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_function("document.querySelectorAll('#alerts li').length > 0", timeout=TIMEOUT_MS)
    stock = {
        li.get_attribute("data-product"): li.text_content()
        for li in page.query_selector_all("#stock li")
    }
    return {
        "first_sales": first_sales,
        "sales": int(page.text_content("#sales")),
        "revenue": page.text_content("#revenue"),
        "last_sale": page.text_content("#last-sale"),
        "stock": stock,
        "alert": page.text_content("#alerts li"),
        "low": len(page.query_selector_all("#stock .low")),
    }


def main():
    which, base, shot = sys.argv[1], sys.argv[2], sys.argv[3]
    check = {"sensor": sensor, "dashboard": dashboard}[which]
    with browser() as b:
        page = b.new_page(viewport={"width": 1100, "height": 760})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        started = time.monotonic()
        result = check(page)
        result["seconds"] = round(time.monotonic() - started, 2)
        page.screenshot(path=shot, full_page=True)
        if errors:
            raise SystemExit(f"page errors: {errors}")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
