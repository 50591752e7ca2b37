"""Loading and chunking articles from Markdown, HTML and plain text."""
from __future__ import annotations

from pathlib import Path

from actions.knowledge.chunking import body_from_text, chunk_article
from actions.knowledge.documents import load_articles
from actions.knowledge.config import DEFAULT_KNOWLEDGE_DIR

from .conftest import write_article


def test_markdown_front_matter_and_sections(tmp_path: Path) -> None:
    write_article(tmp_path, "gift-wrap", "Gift wrapping",
                  "Intro line.\n\n## Cost\n\nWrapping costs **$4.99** per item.\n\n"
                  "## Where\n\n| Region | Available |\n|---|---|\n| US | yes |\n")
    result = load_articles([tmp_path])
    assert result.errors == []
    (article,) = result.articles
    assert (article.article_id, article.title, article.audience) == ("gift-wrap", "Gift wrapping", "public")
    chunks = chunk_article(article)
    assert [c.section for c in chunks] == ["Overview", "Cost", "Where"]
    cost = chunks[1]
    assert cost.body == "Wrapping costs $4.99 per item."  # bold markers stripped
    assert cost.text.startswith("Gift wrapping | Cost\n\n")  # title + section prefix for embedding
    assert body_from_text(cost.text) == cost.body
    assert chunks[2].body == "- US: Available: yes."  # tables become readable sentences
    assert cost.metadata()["content_hash"] == article.content_hash
    assert cost.chunk_id == "gift-wrap#01"


def test_malformed_files_are_reported_and_skipped(tmp_path: Path) -> None:
    write_article(tmp_path, "good", "Good article", "## Part\n\nSome text here.")
    (tmp_path / "no-front-matter.md").write_text("# Just a heading\n\nText.", encoding="utf-8")
    (tmp_path / "bad-yaml.md").write_text("---\nid: [unclosed\ntitle: x\n---\nBody", encoding="utf-8")
    (tmp_path / "no-id.md").write_text("---\ntitle: No id\n---\nBody text", encoding="utf-8")
    (tmp_path / "bad-audience.md").write_text("---\nid: a\ntitle: A\naudience: vip\n---\nBody", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00garbage")
    result = load_articles([tmp_path])
    assert [a.article_id for a in result.articles] == ["good"]
    reasons = dict((Path(p).name, r) for p, r in result.errors)
    assert set(reasons) == {"no-front-matter.md", "bad-yaml.md", "no-id.md", "bad-audience.md", "binary.txt"}
    assert "front matter" in reasons["no-front-matter.md"]
    assert "id" in reasons["no-id.md"]


def test_html_uses_title_and_strips_tags(tmp_path: Path) -> None:
    (tmp_path / "store-pickup.html").write_text(
        "<html><head><title>Store pickup &amp; lockers</title><style>p{color:red}</style>"
        "<script>var secret = 1;</script></head><body><nav>Home | Help</nav>"
        "<h1>Store pickup &amp; lockers</h1><p>Pick up at <b>any</b> locker.</p>"
        "<h2>Hours</h2><ul><li>Lockers are open 24/7.</li><li>Staffed desks close at 8 p.m.</li></ul>"
        "</body></html>", encoding="utf-8")
    (article,) = load_articles([tmp_path]).articles
    assert article.title == "Store pickup & lockers"
    assert article.article_id == "store-pickup"
    assert "<" not in article.body and "secret" not in article.body and "color" not in article.body
    chunks = chunk_article(article)
    assert [c.section for c in chunks] == ["Overview", "Hours"]
    assert chunks[0].body == "Pick up at any locker."
    assert "- Lockers are open 24/7." in chunks[1].body


def test_plain_text_first_line_is_title(tmp_path: Path) -> None:
    (tmp_path / "holiday-hours.txt").write_text(
        "Holiday opening hours\n\nOur support team is closed on New Year's Day.\n", encoding="utf-8")
    (article,) = load_articles([tmp_path]).articles
    assert (article.article_id, article.title) == ("holiday-hours", "Holiday opening hours")
    assert chunk_article(article)[0].body == "Our support team is closed on New Year's Day."


def test_shipped_knowledge_base_is_well_formed() -> None:
    result = load_articles([DEFAULT_KNOWLEDGE_DIR])
    assert result.errors == []
    assert len(result.articles) >= 45
    internal = [a for a in result.articles if a.audience == "internal"]
    assert len(internal) >= 5
    for article in result.articles:
        assert article.url.startswith("https://help.brightcart.example/")
        assert article.last_reviewed and article.version
        assert article.body.count("\n## ") >= 2, article.article_id
