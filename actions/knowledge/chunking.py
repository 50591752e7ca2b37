"""Splitting articles into retrievable chunks, one per section.

Help-center sections are short and self-contained, so a section is the natural unit: a chunk
keeps its article title and section heading, and the embedded text starts with both so that a
section like "Cost" still knows it is about *express shipping*. Very long sections are split
further on paragraph boundaries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .documents import Article

MAX_CHUNK_CHARS = 1000
OVERVIEW_SECTION = "Overview"
# Linear-time patterns only (tests/limits/test_linear_patterns.py): no run that can start at
# every position of a long run of the same characters and scan to its end.
_HEADING = re.compile(r"^(#{1,4})\s+(.+)$")  # the closing #s are removed by _heading_text
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]+\)")  # a '[' or '(' inside starts the next candidate
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")

_splitter = RecursiveCharacterTextSplitter(
    chunk_size=MAX_CHUNK_CHARS, chunk_overlap=100, separators=["\n\n", "\n", ". ", " "]
)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    article_id: str
    title: str
    url: str
    section: str
    audience: str
    version: str
    content_hash: str
    source: str
    body: str  # the section text, shown to customers and quoted verbatim by the answerer

    @property
    def text(self) -> str:
        """What gets embedded and indexed: title and section first, then the section body."""
        return f"{self.title} | {self.section}\n\n{self.body}"

    def metadata(self) -> dict[str, str | int]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "section": self.section,
            "audience": self.audience,
            "version": self.version,
            "content_hash": self.content_hash,
            "source": self.source,
        }


def body_from_text(text: str) -> str:
    """Inverse of :attr:`Chunk.text`: the section body of a stored chunk."""
    _, sep, body = text.partition("\n\n")
    return body if sep else text


def _split_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _tables_to_lines(lines: list[str]) -> list[str]:
    """Turn a Markdown table into one readable line per row ("Canada: Standard: ...; Express: ...").

    Rows are then sentences the extractive answerer can quote, instead of pipe soup.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        is_table = (
            line.strip().startswith("|") and i + 1 < len(lines)
            and _TABLE_SEPARATOR.match(lines[i + 1].strip())
        )
        if not is_table:
            out.append(line)
            i += 1
            continue
        header = _split_cells(line)
        i += 2
        while i < len(lines) and lines[i].strip().startswith("|"):
            cells = _split_cells(lines[i])
            label = cells[0]
            pairs = [
                f"{name}: {value}" for name, value in zip(header[1:], cells[1:])
                if value and value != "-"
            ]
            out.append(f"- {label}: " + "; ".join(pairs) + ".")
            i += 1
    return out


def clean_markdown(text: str) -> str:
    text = _LINK.sub(r"\1", _BOLD.sub(r"\2", text))
    lines = _tables_to_lines(text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip()


def _heading_text(text: str) -> str:
    """A heading's text without its closing sequence (spaces, #s, spaces), keeping at least one
    character: what ``(.+?)\s*#*\s*$`` captured, without that pattern's quadratic time on a
    line of many spaces or #s (each extension of the lazy group rescanned the rest)."""
    core = text.rstrip().rstrip("#").rstrip()
    return core or text[:1]


def _sections(article: Article) -> list[tuple[str, str]]:
    """(heading, text) pairs; text before the first ``##`` heading is the overview."""
    sections: list[tuple[str, list[str]]] = [(OVERVIEW_SECTION, [])]
    for line in article.body.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            continue  # the H1 repeats the title, which every chunk carries anyway
        if match:
            sections.append((_heading_text(match.group(2)).strip(), []))
        else:
            sections[-1][1].append(line)
    result = []
    for heading, lines in sections:
        text = clean_markdown("\n".join(lines))
        if text:
            result.append((heading, text))
    return result


def chunk_article(article: Article) -> list[Chunk]:
    chunks: list[Chunk] = []
    content_hash = article.content_hash
    for heading, text in _sections(article):
        pieces = [text] if len(text) <= MAX_CHUNK_CHARS else _splitter.split_text(text)
        for piece in pieces:
            chunks.append(
                Chunk(
                    # Position-based ids are stable for an unchanged article; a changed article's
                    # chunks are all deleted and re-added, so ids never point at stale text.
                    chunk_id=f"{article.article_id}#{len(chunks):02d}",
                    article_id=article.article_id,
                    title=article.title,
                    url=article.url,
                    section=heading,
                    audience=article.audience,
                    version=article.version,
                    content_hash=content_hash,
                    source=article.source,
                    body=piece.strip(),
                )
            )
    return chunks
