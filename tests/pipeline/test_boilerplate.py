"""The pure part of learned boilerplate: normalising, hashing, removing known paragraphs."""

from __future__ import annotations

from pipeline.boilerplate import (
    BoilerplateSettings,
    content_key,
    countable_paragraphs,
    host_key,
    normalise_paragraph,
    paragraph_hash,
    remove_known,
)
from pipeline.clean import Removal

SETTINGS = BoilerplateSettings()
STORY = [
    "The ferry to the outer islands will run twice a day from June, the port said.",
    "Fishermen welcomed the change, which ends a decade of a single morning crossing.",
    "The port will also repaint the old lighthouse before the summer season begins.",
]
FOOTER = "Tide tables and ferry times appear daily in the printed edition."


def test_template_variations_normalise_to_one_paragraph() -> None:
    variants = [
        "© 2023 Harbour  Tribune.  All rights reserved.",
        "© 2024 harbour tribune. all rights reserved.",
        "\u00a9 2025\u00a0Harbour Tribune. All rights   reserved.",
    ]
    assert len({normalise_paragraph(v) for v in variants}) == 1
    assert len({paragraph_hash(v) for v in variants}) == 1
    # Words still tell paragraphs apart.
    assert paragraph_hash("Follow us on Mastodon") != paragraph_hash("Follow us on Bluesky")


def test_hash_fits_a_signed_64_bit_column() -> None:
    for text in [*STORY, FOOTER, ""]:
        assert -(2**63) <= paragraph_hash(text) < 2**63


def test_host_key_groups_pages_of_one_site() -> None:
    assert host_key("https://WWW.Example.com/a?x=1") == "example.com"
    assert host_key("http://example.com/b") == "example.com"
    assert host_key("http://127.0.0.1:8080/c") == "127.0.0.1:8080"
    assert host_key("http://127.0.0.1:8081/c") != host_key("http://127.0.0.1:8080/c")
    assert host_key("https://news.example.com/") != host_key("https://example.com/")


def test_countable_paragraphs_are_distinct_and_not_too_long() -> None:
    text = "\n".join([STORY[0], FOOTER, "", FOOTER.lower(), "x" * 2000, STORY[1]])
    counted = countable_paragraphs(text, BoilerplateSettings(max_chars=1000))
    assert [p.text for p in counted] == [STORY[0], FOOTER, STORY[1]]
    assert [p.hash for p in counted] == [paragraph_hash(p.text) for p in counted]


def test_remove_known_reports_each_removed_paragraph() -> None:
    text = "\n".join([STORY[0], FOOTER, STORY[1], FOOTER.upper(), STORY[2]])
    outcome = remove_known(text, {paragraph_hash(FOOTER)}, SETTINGS)
    assert outcome.text == "\n".join(STORY)
    assert outcome.removed == (
        Removal(paragraph=FOOTER, rule="learned"),
        Removal(paragraph=FOOTER.upper(), rule="learned"),
    )


def test_remove_known_keeps_text_without_known_paragraphs() -> None:
    text = "\n".join(STORY)
    assert remove_known(text, set(), SETTINGS).text == text
    assert remove_known(text, {paragraph_hash(FOOTER)}, SETTINGS).removed == ()


def test_a_page_that_is_mostly_known_paragraphs_is_left_whole() -> None:
    # A story filed twice on one host looks like "boilerplate" to the counts; taking
    # most of a text away is never what a template line does.
    text = "\n".join([*STORY, FOOTER])
    known = {paragraph_hash(p) for p in STORY[:2]}
    outcome = remove_known(text, known, BoilerplateSettings(max_removed_share=0.5))
    assert outcome.text == text and outcome.removed == ()
    outcome = remove_known(text, known, BoilerplateSettings(max_removed_share=0.9))
    assert outcome.text == "\n".join([STORY[2], FOOTER])


def test_copies_of_a_story_share_a_content_key_and_other_stories_do_not() -> None:
    story = "\n".join(STORY)
    # The same story in another section's template: other furniture, same long paragraphs.
    copy = "\n".join(["Follow the harbour desk", *STORY, "Share this"])
    other = "\n".join(
        [
            "The council approved a new footbridge over the canal on a narrow vote.",
            "Work on the bridge will start in autumn and close the towpath for a month.",
            FOOTER,
        ]
    )
    assert content_key(story) == content_key(copy)
    assert content_key(story) != content_key(other)
    # Sharing the footer (the longest line of two short pages) does not make them copies.
    short_a = "\n".join(["A short notice about the ferry.", FOOTER])
    short_b = "\n".join(["A short notice about the bridge.", FOOTER])
    assert content_key(short_a) != content_key(short_b)
