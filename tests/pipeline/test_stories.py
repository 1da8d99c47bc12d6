"""The story tier's pure parts: terms, vectors, windows, and a batch planned from nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import pytest

from pipeline.stories import (
    Story,
    StoryIndex,
    StorySettings,
    Window,
    overlaps,
    plan_batch,
    story_doc,
    window_around,
)
from pipeline.terms import cosine, lead, names, plain_terms, stem, term_counts, tfidf_vector
from tests.conftest import SHARED
from tests.stories_cases import CHILE, CHILE_AT, JAPAN

SETTINGS = StorySettings()


class EmptyStore:
    """A ``StoryIndex`` with nothing stored yet: the state of a fresh database."""

    def frequencies(self, terms: Iterable[str]) -> tuple[int, Mapping[str, int]]:
        return 0, {}

    def candidates(
        self,
        terms: Sequence[str],
        window: Window | None,
        per_term: int,
        limit: int,
        min_shared: int = 1,
    ) -> list[Story]:
        return []

    def story(self, story_id: int) -> Story | None:
        return None

    def stories_of_copies(self, copy_ids: Iterable[int]) -> Mapping[int, int]:
        return {}


def test_plain_terms_drop_stopwords_and_fold_plurals() -> None:
    assert plain_terms("The troops said they were sent to Russia's far east.") == [
        "troop",
        "sent",
        "russia",
        "far",
        "east",
    ]
    assert [stem(w) for w in ("countries", "glasses", "bus", "crisis", "ships")] == [
        "country",
        "glass",
        "bus",
        "crisis",
        "ship",
    ]


def test_overlong_words_are_not_terms() -> None:
    blob = "A" + "b" * 3000
    assert plain_terms(f"The leak {blob} was found") == ["leak", "found"]
    assert names(f"It was {blob} Smith who spoke.") == []


def test_names_are_runs_of_capitalised_words_within_a_sentence() -> None:
    text = (
        "The actress Tara Reid checked into Promises Treatment Center, her rep said.\n"
        "It was The Hunger Games director who spoke. Kyiv said little about it."
    )
    assert names(text) == ["n:tara_reid", "n:promise_treatment_center", "n:hunger_game"]


def test_headline_case_lines_give_no_names() -> None:
    assert names("Obama Administration Flips Bush Endangered Species Ruling") == []


def test_title_words_names_and_years_weigh_more() -> None:
    counts = term_counts(
        "Quake in Chile",
        "Carolina Toha spoke in 2024 about the quake.",
        title_weight=2.0,
        name_weight=2.0,
        year_weight=3.0,
    )
    assert counts["quake"] == 3.0  # once in the body, plus the title weight
    assert counts["chile"] == 2.0  # title only
    assert counts["n:carolina_toha"] == 2.0
    assert counts["2024"] == 3.0
    assert counts["spoke"] == 1.0


def test_the_lead_is_the_first_paragraph_after_a_repeated_title() -> None:
    text = "Quake in Chile\n\nA quake hit Valparaiso.\nIn 2010 a larger one hit Concepcion."
    assert lead("Quake in Chile", text) == "A quake hit Valparaiso."
    assert lead("", text) == "Quake in Chile"
    assert lead("Quake in Chile", text, 2) == text.split("\n", 2)[2]


def test_lead_words_weigh_more_than_background() -> None:
    counts = term_counts(
        "",
        "A quake hit Valparaiso.\nIn 2010 a larger quake hit Concepcion.",
        title_weight=2.0,
        name_weight=0.0,
        lead_weight=2.0,
    )
    assert counts["valparaiso"] == 3.0  # once in the body, plus the lead weight
    assert counts["concepcion"] == 1.0
    assert counts["quake"] == 4.0


def test_tfidf_vectors_are_unit_length_and_rare_terms_weigh_more() -> None:
    vector = tfidf_vector({"quake": 1.0, "valparaiso": 1.0}, {"quake": 9}, documents=10)
    assert sum(w * w for w in vector.values()) == pytest.approx(1.0)
    assert vector["valparaiso"] > vector["quake"]
    assert cosine(vector, vector) == pytest.approx(1.0)


def test_a_window_spans_the_configured_days_and_undated_means_any_time() -> None:
    window = window_around(CHILE_AT, 3.0)
    assert window == Window(CHILE_AT - timedelta(days=3), CHILE_AT + timedelta(days=3))
    assert window_around(None, 3.0) is None

    def at(days: int | None) -> datetime | None:
        return None if days is None else CHILE_AT + timedelta(days=days)

    def story(first: int | None, last: int | None) -> Story:
        return Story(id=1, vector={}, members=1, first_at=at(first), last_at=at(last))

    assert overlaps(story(-5, -2), window)
    assert not overlaps(story(-9, -4), window)
    assert not overlaps(story(4, 6), window)
    assert overlaps(story(None, None), window)  # an undated story matches any date
    assert overlaps(story(-30, -30), None)  # an undated article matches any story


def test_a_batch_planned_from_nothing_groups_its_reports() -> None:
    index: StoryIndex = EmptyStore()
    docs = [
        story_doc("chile-0", *CHILE[0], CHILE_AT, SETTINGS),
        story_doc("japan-0", *JAPAN[0], CHILE_AT, SETTINGS),
        story_doc("chile-1", *CHILE[1], CHILE_AT, SETTINGS),
        story_doc("japan-1", *JAPAN[1], CHILE_AT, SETTINGS),
    ]
    plan = plan_batch(docs, index, SETTINGS)
    assert plan.assignments == {"chile-0": -1, "japan-0": -2, "chile-1": -1, "japan-1": -2}
    assert [s.members for s in plan.new_stories] == [2, 2]
    assert plan.documents == 4
    assert plan.frequencies["valparaiso"] == 2
    # The same input in the same order plans the same again.
    assert plan_batch(docs, index, SETTINGS).assignments == plan.assignments


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data not found")
def test_the_five_seed_reports_make_one_story() -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    docs = [story_doc(p.name, "", p.read_text("utf-8"), None, SETTINGS) for p in seeds]
    for order in (docs, docs[::-1]):
        plan = plan_batch(order, EmptyStore(), SETTINGS)
        assert set(plan.assignments.values()) == {-1}
