"""The HTML status page, loaded in headless Chromium (Debian's chromium package).

The page is served by the real app over a newsroom stored through the real write
path. Chromium dumps the DOM it built (sources and stories must be in it) and takes a
screenshot, which is decoded and checked for the health badges and story cards where
the page draws them; the same checks on the page of an empty database must fail.
Without /usr/bin/chromium the browser tests skip, unless NEWSINGEST_REQUIRE_BROWSER=1
(as in CI, ``.ci/run``), which makes a missing browser a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from lxml import html as lxml_html
from numpy.typing import NDArray

from tests.png import read_png
from tests.serving import MARKUP_TITLE, SOURCES, fill_newsroom, serving, settings_for
from tests.stories_cases import CHILE, FOOTBALL, JAPAN

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_VAR = "NEWSINGEST_REQUIRE_BROWSER"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH, HEIGHT = 1280, 2000
TOKEN = "page-token-for-tests"

STORY_TITLES = {CHILE[0][0], JAPAN[0][0], FOOTBALL[0]}
# The colours the page's CSS gives what the screenshot is checked for.
HEALTH_COLOURS = {
    "ok": (0x1A, 0x7F, 0x37),
    "failing": (0x9A, 0x67, 0x00),
    "dead": (0xCF, 0x22, 0x2E),
}
STORY_EDGE = (0x09, 0x69, 0xDA)


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: Any) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('page') / 'news.db'}"
    fill_newsroom(url)
    return url


@pytest.fixture(scope="module")
def page_url(newsroom: str) -> Iterator[str]:
    with serving(settings_for(newsroom)) as url:
        yield f"{url}/"


@pytest.fixture
def chromium() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    if os.environ.get(REQUIRE_VAR) == "1":
        pytest.fail(f"{REQUIRE_VAR}=1 but {CHROMIUM} is missing", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def run_chromium(chromium: Path, tmp_path: Path, url: str, *args: str) -> str:
    """Run headless Chromium on ``url`` with a fresh profile; return its stdout."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    done = subprocess.run(
        [str(chromium), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(chromium: Path, tmp_path: Path, url: str, name: str) -> NDArray[np.uint8]:
    path = tmp_path / name
    run_chromium(chromium, tmp_path, url, f"--screenshot={path}", f"--window-size={WIDTH},{HEIGHT}")
    assert path.is_file()
    return read_png(path)


def rows_with(
    image: NDArray[np.uint8], colour: tuple[int, int, int], at_least: int
) -> NDArray[np.intp]:
    """The y of every pixel row that has ``at_least`` pixels of exactly ``colour``."""
    matches = np.all(image == np.array(colour, dtype=np.uint8), axis=2)
    return np.flatnonzero(matches.sum(axis=1) >= at_least)


def ink(image: NDArray[np.uint8], top: int, bottom: int) -> int:
    """Text pixels between rows ``top`` and ``bottom``: dark, and not a badge or card fill."""
    band = image[max(top, 0) : bottom]
    text = band.max(axis=2) < 200
    for fill in (*HEALTH_COLOURS.values(), STORY_EDGE):
        text &= ~np.all(band == np.array(fill, dtype=np.uint8), axis=2)
    return int(text.sum())


def drawn_regions(image: NDArray[np.uint8]) -> dict[str, tuple[int, int]]:
    """Where the page drew the health badges and the story cards (first and last row).

    Fails when one of them is not in the image, or carries no text.
    """
    regions: dict[str, tuple[int, int]] = {}
    for health, colour in HEALTH_COLOURS.items():
        rows = rows_with(image, colour, 20)  # a badge is >20 px wide
        assert rows.size >= 10, f"no {health} health badge drawn"
        regions[health] = (int(rows[0]), int(rows[-1]))
    stories = rows_with(image, STORY_EDGE, 6)  # a card's 6 px left edge
    assert stories.size >= 300, "no story cards drawn"  # three cards of >100 px each
    regions["stories"] = (int(stories[0]), int(stories[-1]))
    top = min(regions[h][0] for h in HEALTH_COLOURS)
    bottom = max(regions[h][1] for h in HEALTH_COLOURS)
    # The source ids and figures beside the badges, the titles and members in the cards.
    assert ink(image, top - 5, bottom + 5) > 3000, "the sources table has no text"
    assert ink(image, *regions["stories"]) > 10000, "the story cards have no text"
    colours = np.unique(image[regions["stories"][0] : regions["stories"][1]].reshape(-1, 3), axis=0)
    assert len(colours) > 50, "the story cards are flat colour"
    return regions


def test_page_is_one_self_contained_html_document(page_url: str) -> None:
    response = httpx.get(page_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for source in SOURCES:
        assert source in page
    for title in STORY_TITLES:
        assert title in page
    # Stored text is escaped, never markup.
    assert "Cup final &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; penalties" in page
    # Nothing to run and nothing to fetch: no scripts, styles, fonts or images from elsewhere.
    for needle in ("<script", "<link", "<img", "@import", "url(", "src="):
        assert needle not in page.lower()


def test_chromium_renders_sources_and_stories(
    chromium: Path, tmp_path: Path, page_url: str
) -> None:
    dom = lxml_html.fromstring(run_chromium(chromium, tmp_path, page_url, "--dump-dom"))
    sources = dom.xpath("//section[@id='sources']//tbody/tr")
    shown = {row.xpath("string(td[1])"): row.xpath("string(td[3])") for row in sources}
    assert shown == {
        "harbour": "failing x2http_503",
        "ledger": "dead (http_410)http_410",
        "northwind": "ok",
    }

    cards = dom.xpath("//section[@id='stories']//article")
    by_title = {card.xpath("string(h3)"): card for card in cards}
    assert set(by_title) == STORY_TITLES
    chile = by_title[CHILE[0][0]]
    assert [li.xpath("string(a)") for li in chile.xpath(".//li")] == [t for t, _ in CHILE]
    assert chile.xpath(".//span[@class='publisher']/text()") == ["harbour", "ledger", "northwind"]
    final = [li.xpath("string(a)") for li in by_title[FOOTBALL[0]].xpath(".//li")]
    assert final == [FOOTBALL[0], MARKUP_TITLE]
    assert not dom.xpath("//script")  # the escaped title stayed text

    runs = dom.xpath("//section[@id='runs']//tbody/tr")
    assert len(runs) == 4


def test_chromium_screenshot_shows_sources_and_stories(
    chromium: Path, tmp_path: Path, page_url: str
) -> None:
    image = screenshot(chromium, tmp_path, page_url, "page.png")
    assert image.shape == (HEIGHT, WIDTH, 3)
    regions = drawn_regions(image)
    # Sources at the top, stories below them, where the page puts them.
    assert max(regions[h][1] for h in HEALTH_COLOURS) < regions["stories"][0]

    # The same checks fail on the page of an empty database: they do look at the pixels.
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with serving(settings_for(empty)) as url:
        blank = screenshot(chromium, tmp_path, f"{url}/", "empty.png")
    assert blank.shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(AssertionError, match="health badge"):
        drawn_regions(blank)
    assert rows_with(blank, STORY_EDGE, 6).size == 0


def test_chromium_opens_the_token_page_with_the_token_as_password(
    chromium: Path, tmp_path: Path, newsroom: str
) -> None:
    with serving(settings_for(newsroom, token=TOKEN)) as url:
        refused = run_chromium(chromium, tmp_path, f"{url}/", "--dump-dom")
        host = url.removeprefix("http://")
        allowed = run_chromium(chromium, tmp_path, f"http://reader:{TOKEN}@{host}/", "--dump-dom")
    assert "northwind" not in refused
    dom = lxml_html.fromstring(allowed)
    assert set(dom.xpath("//section[@id='sources']//tbody/tr/td[1]//text()")) == set(SOURCES)
