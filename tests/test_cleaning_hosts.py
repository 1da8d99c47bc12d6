"""Which host a page's boilerplate is learned for."""

from __future__ import annotations

from newsingest.cleaning import host_of


def test_the_host_is_where_the_fetch_ended_not_the_canonical() -> None:
    # A syndicated copy names the original as canonical; its template is the partner's.
    assert host_of("https://www.partner.example/a", "https://origin.example/a") == (
        "partner.example"
    )


def test_an_imported_file_learns_with_the_site_it_declares() -> None:
    assert host_of("file:///data/saved/a.html", "https://www.site.example/a") == "site.example"


def test_files_without_a_declared_url_share_one_local_group() -> None:
    assert host_of("file:///data/a.html", "file:///data/a.html") == host_of(
        "file:///other/b.html", "file:///other/b.html"
    )
