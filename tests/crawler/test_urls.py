"""canonical_url: one spelling per page, and clear errors for what is not a web URL."""

from __future__ import annotations

import pytest

from crawler.errors import BadURLError, CrawlerError
from crawler.urls import canonical_url, is_tracking_param


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTP://Example.COM:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com", None, "http://example.com/"),
        ("http://example.com/a#comments", None, "http://example.com/a"),
        ("http://example.com/a/./b/../c", None, "http://example.com/a/c"),
        ("../x.html", "https://ex.com/news/world/page.html", "https://ex.com/news/x.html"),
        ("/x", "https://ex.com/news/", "https://ex.com/x"),
        ("//cdn.ex.com/x", "https://ex.com/", "https://cdn.ex.com/x"),
        ("  https://ex.com/a  ", None, "https://ex.com/a"),
        ("https://bücher.de/straße", None, "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("http://[::1]:8080/a", None, "http://[::1]:8080/a"),
        ("http://example.com./a", None, "http://example.com/a"),
        # RFC 3986 6.2.2: escapes in upper case, unreserved characters unescaped.
        ("http://ex.com/%7euser/a%2fb?q=%e2%82%ac", None, "http://ex.com/~user/a%2Fb?q=%E2%82%AC"),
        ("http://ex.com/%41%2D%5F", None, "http://ex.com/A-_"),
    ],
)
def test_canonical_forms(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


def test_tracking_parameters_go_and_the_rest_keep_order_and_spelling() -> None:
    url = (
        "https://ex.com/story?utm_source=rss&b=2&fbclid=abc&a=x%20y&gclid=1"
        "&UTM_Medium=feed&q=&mc_cid=9&page=3"
    )
    assert canonical_url(url) == "https://ex.com/story?b=2&a=x%20y&q=&page=3"


def test_only_tracking_parameters_leaves_no_query() -> None:
    assert canonical_url("https://ex.com/story?utm_campaign=x&gclid=y") == "https://ex.com/story"


def test_tracking_param_names() -> None:
    assert is_tracking_param("utm_content")
    assert is_tracking_param("FBCLID")
    assert is_tracking_param("fb_action_ids")
    assert is_tracking_param("icid")
    assert not is_tracking_param("id")
    assert not is_tracking_param("page")
    assert not is_tracking_param("source_id")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "mailto:desk@ex.com",
        "ftp://ex.com/file",
        "javascript:void(0)",
        "/relative/only",
        "http://",
        "http://ex.com:99999/",
        "http://[::1/",
    ],
)
def test_bad_urls_raise(url: str) -> None:
    with pytest.raises(BadURLError) as caught:
        canonical_url(url)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, CrawlerError)
    assert caught.value.url == url
    assert caught.value.why


def test_relative_link_against_a_non_http_base_is_bad() -> None:
    with pytest.raises(BadURLError):
        canonical_url("x.html", "file:///tmp/feed.xml")
