"""Loading help-center articles from Markdown (front matter), HTML and plain-text files.

Every loader returns :class:`Article` objects with the same fields, so chunking and ingestion do
not care about the source format. A file that cannot be parsed is reported in
:attr:`LoadResult.errors` and skipped: one bad article must never stop ingestion of the rest.
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

import yaml

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")
AUDIENCES = ("public", "internal")
REQUIRED_FRONT_MATTER = ("id", "title")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")


class ArticleError(ValueError):
    """An article file that cannot be ingested (the message says why)."""


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    url: str
    audience: str
    product_area: str
    version: str
    last_reviewed: str
    body: str  # Markdown-ish text; HTML and .txt are converted to this form
    source: str  # path the article was read from

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so any edit triggers re-embedding."""
        payload = "\x1f".join(
            [self.article_id, self.title, self.url, self.audience, self.product_area,
             self.version, self.body]
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def slugify(text: str) -> str:
    return _SLUG_UNSAFE.sub("-", text.lower()).strip("-")


def _default_url(article_id: str) -> str:
    return f"https://help.brightcart.example/articles/{article_id}"


def _build(meta: dict, body: str, path: Path) -> Article:
    missing = [key for key in REQUIRED_FRONT_MATTER if not str(meta.get(key) or "").strip()]
    if missing:
        raise ArticleError(f"missing front matter field(s): {', '.join(missing)}")
    audience = str(meta.get("audience") or "public").strip().lower()
    if audience not in AUDIENCES:
        raise ArticleError(f"audience must be one of {AUDIENCES}, got {audience!r}")
    if not body.strip():
        raise ArticleError("article has no body text")
    article_id = str(meta["id"]).strip()
    return Article(
        article_id=article_id,
        title=str(meta["title"]).strip(),
        url=str(meta.get("url") or _default_url(article_id)).strip(),
        audience=audience,
        product_area=str(meta.get("product_area") or "general").strip(),
        version=str(meta.get("version") or "1").strip(),
        last_reviewed=str(meta.get("last_reviewed") or "").strip(),
        body=body.strip(),
        source=str(path),
    )


def parse_markdown(text: str, path: Path) -> Article:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleError("no YAML front matter (expected a leading '---' block)")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise ArticleError(f"invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ArticleError("front matter is not a mapping")
    return _build(meta, text[match.end():], path)


class _HTMLToMarkdown(HTMLParser):
    """Keeps headings (as Markdown), paragraphs, list items and table rows; drops everything else.

    Script/style contents are skipped. Good enough for help-center exports, and no extra
    dependency is needed.
    """

    _BLOCKS = {"p", "div", "section", "article", "br", "tr", "table", "ul", "ol"}
    _SKIP = {"script", "style", "noscript", "nav", "footer", "header"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.meta: dict[str, str] = {}
        self._skip_depth = 0
        self._in_title = False
        self._cell_index = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            attributes = dict(attrs)
            name = (attributes.get("name") or "").lower()
            if name and attributes.get("content"):
                self.meta[name] = attributes["content"] or ""
        elif tag in ("h1", "h2", "h3", "h4"):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" | " if self._cell_index else "\n")
            self._cell_index += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
        if tag == "tr":
            self._cell_index = 0

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2", "h3", "h4", "p", "div", "section", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title += data
            return
        self.parts.append(re.sub(r"\s+", " ", data))

    def markdown(self) -> str:
        text = "".join(self.parts)
        lines = [line.strip() for line in text.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_html(text: str, path: Path) -> Article:
    parser = _HTMLToMarkdown()
    parser.feed(text)
    parser.close()
    body = parser.markdown()
    title = html.unescape(parser.title).strip()
    if not title:
        heading = re.search(r"^# (.+)$", body, re.MULTILINE)
        title = heading.group(1).strip() if heading else ""
    if not title:
        raise ArticleError("HTML page has neither <title> nor <h1>")
    meta = {
        "id": parser.meta.get("article-id") or slugify(path.stem),
        "title": title,
        "url": parser.meta.get("article-url"),
        "audience": parser.meta.get("audience") or "public",
        "product_area": parser.meta.get("product-area"),
        "version": parser.meta.get("version"),
    }
    return _build(meta, body, path)


def parse_text(text: str, path: Path) -> Article:
    """Plain text: the first non-empty line is the title, the rest is the body."""
    lines = text.strip().splitlines()
    if not lines:
        raise ArticleError("empty text file")
    title = lines[0].strip().lstrip("#").strip()
    body = "\n".join(lines[1:]).strip()
    return _build({"id": slugify(path.stem), "title": title}, body, path)


_PARSERS = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".txt": parse_text,
}


def load_file(path: Path) -> Article:
    parser = _PARSERS.get(path.suffix.lower())
    if parser is None:
        raise ArticleError(f"unsupported file type {path.suffix!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"not UTF-8 text: {exc}") from exc
    return parser(text, path)


def iter_article_files(folders: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
            continue
        files.extend(
            p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not p.name.startswith((".", "_")) and p.name.lower() != "readme.md"
        )
    return files


def load_articles(folders: Iterable[Path]) -> LoadResult:
    """Load every supported file under ``folders``; bad files and duplicate ids are reported."""
    result = LoadResult()
    seen: dict[str, str] = {}
    for path in iter_article_files(folders):
        try:
            article = load_file(path)
        except (ArticleError, OSError) as exc:
            logger.warning("skipping %s: %s", path, exc)
            result.errors.append((str(path), str(exc)))
            continue
        if article.article_id in seen:
            reason = f"duplicate article id {article.article_id!r} (also in {seen[article.article_id]})"
            logger.warning("skipping %s: %s", path, reason)
            result.errors.append((str(path), reason))
            continue
        seen[article.article_id] = str(path)
        result.articles.append(article)
    return result
