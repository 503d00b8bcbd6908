"""Every page readable in the dark theme, at phone width and on a narrow laptop or tablet: no
exception, the main area no wider than the window, no text cut short, text contrasting with what
is behind it, and screenshots for a person to look at (screenshots/{dark,phone,narrow}-*.png)."""

from __future__ import annotations

import pytest

from browser.conftest import assert_no_exception, open_app, rerun, screenshot
from browser.helpers import main_and_window_width

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
LOOKS = {
    "dark": {"color_scheme": "dark"},
    "phone": {**PHONE, "color_scheme": "light"},
    "narrow": {"viewport": {"width": 1024, "height": 768}, "color_scheme": "light"},
}
# Labels Streamlit draws on one line, cut short with an ellipsis when wider than their place.
CUT = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
  .filter(e => e.scrollWidth > e.clientWidth && getComputedStyle(e).textOverflow === 'ellipsis' && e.textContent.trim())
  .map(e => e.textContent.trim())"""


def demo(page) -> None:
    with rerun(page):
        page.get_by_role("button", name="Try the demo reports").click()


# Each page with something on it: a failing case, the demo triage, the guide, a checked domain.
PAGES = {
    "explorer": ("/?from=user@example.com&dkim=mailchimp.com:pass&spf=mcsv.net:pass", None),
    "triage": ("/triage", demo),
    "guide": ("/guide", None),
    "check": ("/check?domain=strict.example.com&selectors=k1", None),
}

# WCAG contrast of each piece of text in the main area against the colors behind it (alpha
# composited up the tree); canvases (dataframes) and SVG (charts) are not text elements here, and
# disabled controls are meant to look faint (WCAG exempts them).
CONTRAST = """() => {
  const rgba = value => (value.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number).concat([1]).slice(0, 4);
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const luminance = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const behind = element => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) layers.push(rgba(getComputedStyle(node).backgroundColor));
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const main = document.querySelector('[data-testid=stMain]');
  const found = [];
  for (const element of main.querySelectorAll('*')) {
    const text = [...element.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    const box = element.getBoundingClientRect();
    if (!text || box.width === 0 || box.height === 0 || element.closest('svg, [aria-hidden=true], :disabled, [aria-disabled=true]')) continue;
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden' || style.opacity === '0') continue;
    const background = behind(element);
    const color = over(rgba(style.color), background);
    const [light, dark] = [luminance(color), luminance(background)].sort((a, b) => b - a);
    found.push({text: text.slice(0, 60), tag: element.tagName, ratio: (light + 0.05) / (dark + 0.05), color: style.color, background: `rgb(${background.slice(0, 3).map(Math.round)})`});
  }
  return {app: getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor, texts: found};
}"""


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_readable_dark_and_on_a_phone(app_url, new_context, name):
    path, prepare = PAGES[name]
    for look, options in LOOKS.items():
        page = new_context(**options).new_page()
        open_app(page, app_url + path)
        if prepare:
            prepare(page)
        assert_no_exception(page)
        main_width, window_width = main_and_window_width(page)
        assert main_width <= window_width + 1, f"{look}: the main area is {main_width}px wide in a {window_width}px window"
        cut = page.evaluate(CUT)
        assert not cut, f"{look}: text cut short: {cut}"
        seen = page.evaluate(CONTRAST)
        background = [int(part) for part in seen["app"][seen["app"].index("(") + 1 : -1].split(",")[:3]]
        assert (sum(background) / 3 < 60) == (look == "dark"), f"{look}: the app's background is {seen['app']}"
        assert len(seen["texts"]) > 10, seen["texts"]
        faint = [text for text in seen["texts"] if text["ratio"] < 3]
        assert not faint, f"{look}: text hard to read against its background: {faint}"
        screenshot(page, f"{look}-{name}")
