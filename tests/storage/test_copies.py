"""The copy index on SQLite and PostgreSQL: clusters, representatives, restarts, concurrency."""

from __future__ import annotations

import multiprocessing
import random
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from newsingest.copies import CopyStage, copy_stage, fingerprint_articles
from newsingest.demo.articles import load_articles
from pipeline.boilerplate import BoilerplateSettings
from pipeline.copies import CopySettings
from pipeline.fingerprint import fingerprint_text
from pipeline.records import Article
from pipeline.text import content_hash
from storage.boilerplate import BoilerplateStore, TextChange
from storage.copies import (
    RECENT_BAND_ROWS,
    CopyBandRow,
    CopyClusterRow,
    CopyIndex,
    CopyIndexStateRow,
    CopyMemberRow,
    CopyNotFoundError,
    RecentCopyBandRow,
)
from storage.database import create_engine_for
from storage.settings import DatabaseSettings
from storage.store import Store
from tests.storage.factories import T0, article

# Distinct texts: the demo newsroom's articles that are not copies of one another.
TEXTS = ["\n".join(a.paragraphs) for a in load_articles() if len(a.paragraphs) >= 6][:8]
# Two outlets' own reports of one event (same topic, different texts).
SAME_EVENT = [
    "\n".join(a.paragraphs)
    for a in load_articles()
    if a.slug
    in {
        "queens-grandmother-killed-by-a-drunk-hit-and",
        "cops-queens-woman-killed-in-hit-and-run",
    }
]


def variant(text: str, n: int) -> str:
    """Another site's copy: its own boilerplate and credit line, one paragraph dropped."""
    paragraphs = text.split("\n")
    if n % 2 and len(paragraphs) > 3:
        del paragraphs[1 + n % (len(paragraphs) - 1)]
    return "\n".join(
        [f"Site {n} brings you the news that matters.", *paragraphs, f"Photo: NAME {n}/AFP"]
    )


def stage_for(store: Store) -> CopyStage:
    return CopyStage(CopyIndex(store.engine))


def write(store: Store, stage: CopyStage, articles: list[Article]) -> None:
    store.save_batch(articles)
    stage.after_save(articles)


def counts(engine: Engine) -> tuple[int, int, int]:
    """Copy clusters, fingerprinted documents, band keys (in either band table)."""
    with engine.connect() as conn:
        clusters, members, bands, recent = (
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (CopyClusterRow, CopyMemberRow, CopyBandRow, RecentCopyBandRow)
        )
    return clusters, members, bands + recent


def band_keys_of(engine: Engine, document_id: int) -> tuple[set[int], set[int]]:
    """A document's band keys in the big table and in the recent one."""
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            set(conn.scalars(select(t.band_key).where(t.document_id == document_id)))
            for t in (CopyBandRow, RecentCopyBandRow)
        )


def test_exact_and_near_copies_share_a_cluster_and_other_reports_do_not(store: Store) -> None:
    stage = stage_for(store)
    wire = TEXTS[0]
    batch = [
        article("http://127.0.0.1/a/wire", text=wire),
        article("http://127.0.0.1/b/exact", text=wire, source="beta"),
        article("http://127.0.0.1/c/dropped", text=variant(wire, 1), title="A new headline"),
        article("http://127.0.0.1/d/credit", text=variant(wire, 2)),
        *[article(f"http://127.0.0.1/e/{n}", text=t) for n, t in enumerate(SAME_EVENT)],
    ]
    write(store, stage, batch[:2])  # copies arriving in a later batch find the stored ones
    write(store, stage, batch[2:])
    index = stage.index
    copy = {a.url: index.copy_of(a.url) for a in batch}
    assert len({copy[a.url] for a in batch[:4]}) == 1
    assert len({copy[a.url] for a in batch[4:]}) == 2
    assert copy[batch[0].url] not in {copy[a.url] for a in batch[4:]}

    stored = store.document(batch[0].url)
    assert stored is not None and index.copy_of(stored.id) == copy[batch[0].url]
    cluster = index.cluster(copy[batch[0].url])
    assert len(cluster.members) == 4 and cluster.representative_id in cluster.members


def test_copies_within_one_batch_find_each_other(store: Store) -> None:
    stage = stage_for(store)
    batch = [article(f"http://127.0.0.1/same/{n}", text=variant(TEXTS[1], n)) for n in range(4)]
    write(store, stage, batch)
    assert len({stage.index.copy_of(a.url) for a in batch}) == 1


def test_representative_is_the_earliest_copy_then_the_longest(store: Store) -> None:
    stage = stage_for(store)
    index = stage.index
    text = TEXTS[2]
    first = article("http://127.0.0.1/r/1", text=text, published_at=T0)
    write(store, stage, [first])
    ids: dict[str, int] = {}

    def rep() -> str:
        cluster = index.cluster(index.copy_of(first.url))
        return next(url for url, i in ids.items() if i == cluster.representative_id)

    later = article("http://127.0.0.1/r/2", text=variant(text, 2), published_at=T0 + timedelta(1))
    write(store, stage, [later])
    ids = {d.url: d.id for d in store.documents()}
    assert rep() == first.url

    # An earlier copy found later takes over; then an equally early but longer one.
    earlier = article("http://127.0.0.1/r/3", text=variant(text, 4), published_at=T0 - timedelta(1))
    write(store, stage, [earlier])
    longer = article(
        "http://127.0.0.1/r/4", text=variant(text, 4) + "\nMore.", published_at=earlier.published_at
    )
    write(store, stage, [longer])
    ids = {d.url: d.id for d in store.documents()}
    assert rep() == longer.url
    with store.engine.connect() as conn:
        size = conn.scalar(select(CopyClusterRow.size))
    assert size == 4


def test_the_same_batch_twice_changes_nothing(store: Store) -> None:
    stage = stage_for(store)
    batch = [article(f"http://127.0.0.1/i/{n}", text=variant(TEXTS[n % 3], n)) for n in range(9)]
    write(store, stage, batch)
    before = counts(store.engine), stage.index.copies_of(a.url for a in batch)
    write(store, stage, batch)
    stage.after_save(batch)
    assert (counts(store.engine), stage.index.copies_of(a.url for a in batch)) == before
    assert before[0] == (
        3,
        9,
        sum(len(set(f.fingerprint.band_keys)) for f in fingerprint_articles(batch)),
    )


def test_the_index_survives_a_restart(store: Store, database_url: str) -> None:
    write(store, stage_for(store), [article("http://127.0.0.1/old", text=TEXTS[3])])
    store.dispose()

    engine = create_engine_for(DatabaseSettings(url=database_url))  # a new process would
    try:
        again = Store(engine)
        stage = CopyStage(CopyIndex(engine))
        copy = article("http://127.0.0.1/new", text=variant(TEXTS[3], 1))
        write(again, stage, [copy])
        assert stage.index.copy_of(copy.url) == stage.index.copy_of("http://127.0.0.1/old")
    finally:
        engine.dispose()


@pytest.mark.parametrize("recent_band_rows", [RECENT_BAND_ROWS, 1], ids=["recent", "merged"])
def test_a_changed_text_is_fingerprinted_again(store: Store, recent_band_rows: int) -> None:
    # With a limit of one row, every batch's keys move to the big table at once, so the
    # old keys are deleted from there; with the default they are still in the recent one.
    stage = CopyStage(CopyIndex(store.engine, recent_band_rows=recent_band_rows))
    index = stage.index
    url = "http://127.0.0.1/changing"
    write(store, stage, [article(url, text=TEXTS[4], published_at=T0 - timedelta(1))])
    write(store, stage, [article("http://127.0.0.1/copy", text=variant(TEXTS[4], 1))])
    doc = store.document(url)
    assert doc is not None
    shared = index.copy_of(url)

    # A light update stays in its cluster; a different text leaves it, and the cluster
    # it left gets a new representative.
    write(
        store, stage, [article(url, text=TEXTS[4] + "\nCorrection appended.", at=T0 + timedelta(1))]
    )
    assert index.copy_of(url) == shared
    assert index.cluster(shared).representative_id == doc.id
    rewritten = article(url, text=TEXTS[5], at=T0 + timedelta(2))
    write(store, stage, [rewritten])
    assert index.copy_of(url) != shared
    assert index.cluster(shared).members == (index.cluster(shared).representative_id,)

    merged, recent = band_keys_of(store.engine, doc.id)
    assert merged | recent == set(fingerprint_text(TEXTS[5]).band_keys)
    assert not (merged if recent_band_rows == RECENT_BAND_ROWS else recent)


def test_recent_band_keys_are_merged_and_copies_are_found_on_both_sides(store: Store) -> None:
    originals = [article(f"http://127.0.0.1/m/{n}", text=TEXTS[n]) for n in range(3)]
    keys = [len(set(f.fingerprint.band_keys)) for f in fingerprint_articles(originals)]
    # The recent table is full once the first two documents' keys have arrived.
    stage = CopyStage(CopyIndex(store.engine, recent_band_rows=keys[0] + keys[1]))
    for original in originals:
        write(store, stage, [original])
    ids = {d.url: d.id for d in store.documents()}
    where = [band_keys_of(store.engine, ids[a.url]) for a in originals]
    assert [(len(merged), len(recent)) for merged, recent in where] == [
        (keys[0], 0),
        (keys[1], 0),
        (0, keys[2]),
    ]
    with store.engine.connect() as conn:
        assert conn.scalar(select(CopyIndexStateRow.recent_rows)) == keys[2]

    # A copy of a merged text and a copy of a recent one both find their original.
    copies = [article(f"http://127.0.0.1/m/copy/{n}", text=variant(TEXTS[n], 1)) for n in (0, 2)]
    write(store, stage, copies)
    index = stage.index
    assert index.copy_of(copies[0].url) == index.copy_of(originals[0].url)
    assert index.copy_of(copies[1].url) == index.copy_of(originals[2].url)
    assert counts(store.engine)[2] == sum(
        len(set(f.fingerprint.band_keys)) for f in fingerprint_articles([*originals, *copies])
    )


def test_unknown_documents_have_no_copy(store: Store) -> None:
    index = CopyIndex(store.engine)
    with pytest.raises(CopyNotFoundError, match="has no copy cluster"):
        index.copy_of("http://127.0.0.1/never-stored")
    with pytest.raises(CopyNotFoundError):
        index.copy_of(12345)


def test_articles_stored_before_the_stage_are_caught_up(store: Store) -> None:
    store.save_batch(
        [article(f"http://127.0.0.1/pre/{n}", text=variant(TEXTS[6], n)) for n in range(3)]
    )
    stage = copy_stage(CopySettings(), store)
    assert len({stage.index.copy_of(f"http://127.0.0.1/pre/{n}") for n in range(3)}) == 1
    assert stage.catch_up() == 0


@pytest.mark.parametrize("how", ["refresh", "catch_up"])
def test_a_text_cleaned_again_is_fingerprinted_again(store: Store, how: str) -> None:
    # A page whose block of other headlines outweighs its story is no copy of that
    # story elsewhere, until cleaning learns the block and takes it away.
    others = "\n".join(TEXTS[:3]).split("\n")
    block = "\n".join(f"More news: {line}" for line in others)
    stage = stage_for(store)
    story = TEXTS[5]
    cluttered = article("http://127.0.0.1/cluttered", text=story + "\n" + block)
    write(store, stage, [cluttered, article("http://127.0.0.1/plain", text=story)])
    index = stage.index
    assert index.copy_of(cluttered.url) != index.copy_of("http://127.0.0.1/plain")
    doc = store.document(cluttered.url)
    assert doc is not None and index.unfingerprinted() == []

    change = TextChange(
        document_id=doc.id,
        expected_hash=cluttered.content_hash,
        text=story,
        content_hash=content_hash(story),  # as re-cleaning computes it
    )
    assert BoilerplateStore(store.engine, BoilerplateSettings()).apply([change]) == 1
    assert [u.id for u in index.unfingerprinted()] == [doc.id]

    if how == "refresh":  # told by the cleaning stage, in the same process
        assert stage.refresh([doc.id, doc.id + 1000]) == 1
    else:  # found when the stage starts, e.g. after `newsingest reclean`
        stage = copy_stage(CopySettings(), store)
    assert index.copy_of(cluttered.url) == index.copy_of("http://127.0.0.1/plain")
    assert index.unfingerprinted() == [] and stage.refresh([doc.id]) == 0


def write_copies(database_url: str, seed: int) -> None:
    """One writer process: stores copies of every text under its own URLs, shuffled."""
    rng = random.Random(seed)
    engine = create_engine_for(DatabaseSettings(url=database_url))
    try:
        # A small recent table, so both writers also merge it into the big one.
        store, stage = Store(engine), CopyStage(CopyIndex(engine, recent_band_rows=300))
        batch = [
            article(f"http://127.0.0.1/w{seed}/{t}/{n}", text=variant(text, n + seed))
            for t, text in enumerate(TEXTS)
            for n in range(3)
        ]
        rng.shuffle(batch)
        for start in range(0, len(batch), 4):
            write(store, stage, batch[start : start + 4])
    finally:
        engine.dispose()


def test_concurrent_writers_end_with_consistent_clusters(store: Store, database_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=write_copies, args=(database_url, seed)) for seed in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0

    index = CopyIndex(store.engine)
    urls = [d.url for d in store.documents()]
    copy = index.copies_of(urls)
    assert len(copy) == len(urls) == 2 * 3 * len(TEXTS)
    by_text: dict[str, set[int]] = {}
    for url in urls:
        by_text.setdefault(url.split("/")[-2], set()).add(copy[url])
    assert all(len(clusters) == 1 for clusters in by_text.values())
    assert len({c for clusters in by_text.values() for c in clusters}) == len(TEXTS)
    for cluster in index.clusters():
        assert cluster.representative_id in cluster.members
        with store.engine.connect() as conn:
            size = conn.scalar(select(CopyClusterRow.size).where(CopyClusterRow.id == cluster.id))
        assert size == len(cluster.members)


def test_stored_documents_carry_their_copy_cluster(store: Store) -> None:
    stage = stage_for(store)
    first = article("http://127.0.0.1/s/1", text=TEXTS[7], published_at=T0)
    copy = article(
        "http://127.0.0.1/s/2", text=variant(TEXTS[7], 2), published_at=T0 + timedelta(1)
    )
    store.save_batch([article("http://127.0.0.1/s/none", text=TEXTS[0])])  # never staged
    write(store, stage, [first, copy])
    docs = {d.url: d for d in store.documents()}
    assert docs[first.url].copy_id == docs[copy.url].copy_id == stage.index.copy_of(first.url)
    assert docs[first.url].is_representative and not docs[copy.url].is_representative
    assert docs["http://127.0.0.1/s/none"].copy_id is None
    single = store.document(copy.url)
    assert single is not None and single.copy_id == docs[first.url].copy_id
