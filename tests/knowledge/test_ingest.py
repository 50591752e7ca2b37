"""Incremental ingestion into a temporary Chroma directory."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.knowledge import index_version
from actions.knowledge.ingest import ingest, main
from actions.knowledge.store import all_records, get_store

from .conftest import write_article


def _articles_in_index() -> dict[str, str]:
    _, _, metas = all_records(get_store())
    return {m["article_id"]: m["content_hash"] for m in metas}


def test_incremental_reingest_touches_only_changed_and_removed(
        tmp_path: Path, chroma_dir: Path, embedded: list[str]) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    write_article(kb, "alpha", "Alpha policy", "## One\n\nAlpha first section text.\n\n## Two\n\nAlpha second.")
    write_article(kb, "beta", "Beta policy", "## One\n\nBeta text here.\n\n## Two\n\nMore beta.")
    write_article(kb, "gamma", "Gamma policy", "## One\n\nGamma text here.\n\n## Two\n\nMore gamma.")

    first = ingest([kb])
    assert sorted(first.new) == ["alpha", "beta", "gamma"]
    assert first.chunks_total == 6
    version_1 = first.index_version
    assert index_version() == version_1
    manifest = json.loads((chroma_dir / "kb_manifest.json").read_text())
    assert manifest["index_version"] == version_1 and set(manifest["articles"]) == {"alpha", "beta", "gamma"}

    embedded.clear()
    again = ingest([kb])
    assert again.summary() == f"ingested 0 changed, 0 new, 0 removed, 3 unchanged; 6 chunks; index version {version_1}"
    assert embedded == []  # nothing re-embedded

    write_article(kb, "beta", "Beta policy", "## One\n\nBeta text, now revised.", version=2)
    (kb / "gamma.md").unlink()
    embedded.clear()
    report = ingest([kb])
    assert (report.changed, report.new, report.removed, report.unchanged) == (["beta"], [], ["gamma"], ["alpha"])
    assert all(text.startswith("Beta policy") for text in embedded) and embedded
    assert report.chunks_total == 3  # alpha 2 + beta 1 (its old second chunk was deleted)
    assert set(_articles_in_index()) == {"alpha", "beta"}
    assert report.index_version != version_1 and index_version() == report.index_version


def test_malformed_article_is_reported_and_skipped(tmp_path: Path, chroma_dir: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    write_article(kb, "alpha", "Alpha policy", "## One\n\nAlpha text.\n\n## Two\n\nMore.")
    broken = write_article(kb, "beta", "Beta policy", "## One\n\nBeta text.\n\n## Two\n\nMore.")
    ingest([kb])
    # A bad edit: the front matter loses its closing marker.
    broken.write_text(broken.read_text().replace("---\n#", "#", 1), encoding="utf-8")
    (kb / "new-and-broken.md").write_text("no front matter at all", encoding="utf-8")
    report = ingest([kb])
    assert {Path(p).name for p, _ in report.errors} == {"beta.md", "new-and-broken.md"}
    # The last good version of beta stays searchable rather than vanishing because of a typo.
    assert report.kept_on_error == ["beta"] and report.removed == []
    assert set(_articles_in_index()) == {"alpha", "beta"}


def test_html_and_text_folders(tmp_path: Path, chroma_dir: Path, capsys: pytest.CaptureFixture) -> None:
    html_dir, text_dir = tmp_path / "html", tmp_path / "text"
    html_dir.mkdir()
    text_dir.mkdir()
    (html_dir / "lockers.html").write_text(
        "<html><head><title>Parcel lockers</title></head><body><h2>Using a locker</h2>"
        "<p>Choose a parcel locker at checkout and collect with the code we text you.</p>"
        "<h2>Time limit</h2><p>Parcels stay in the locker for 5 days.</p></body></html>",
        encoding="utf-8")
    (text_dir / "holiday-hours.txt").write_text(
        "Holiday support hours\nSupport is closed on New Year's Day.\n", encoding="utf-8")
    assert main([str(html_dir), str(text_dir), "--quiet"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("ingested 0 changed, 2 new, 0 removed, 0 unchanged; 3 chunks; index version ")
    index = _articles_in_index()
    assert set(index) == {"lockers", "holiday-hours"}
    _, docs, metas = all_records(get_store())
    locker = next(d for d, m in zip(docs, metas) if m["section"] == "Time limit")
    assert locker == "Parcel lockers | Time limit\n\nParcels stay in the locker for 5 days."
    assert {m["source"].split("/")[-1] for m in metas} == {"lockers.html", "holiday-hours.txt"}


def test_cli_reports_bad_files_with_nonzero_exit(tmp_path: Path, chroma_dir: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    write_article(kb, "alpha", "Alpha policy", "## One\n\nAlpha text.\n\n## Two\n\nMore.")
    (kb / "broken.md").write_text("---\nid: broken\n---\nno title", encoding="utf-8")
    assert main([str(kb), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "broken.md" in captured.err
    assert captured.out.startswith("ingested 0 changed, 1 new, 0 removed, 0 unchanged; 2 chunks")
    assert main([str(tmp_path / "missing")]) == 2
