"""The documentation stays inside the repository and keeps up with its layout.

A clone is all a reader has: a link or path reference that leaves the repository (``../``) or
points at a file that no longer exists is a dead end, and a top-level folder the README does not
list is one a newcomer has to reverse-engineer.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[2]
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# examples of link syntax inside code (``[label](url)`` in a response template) are not links
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
# top-level folders that exist only at run time (not in git) but a reader meets in a working copy
RUNTIME_FOLDERS = {"var", "models"}


def tracked_files() -> List[str]:
    output = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in output.splitlines() if line]


def documentation_files() -> List[Path]:
    return [ROOT / name for name in tracked_files() if name.endswith(".md")]


def test_no_documentation_links_outside_the_repository():
    outside = []
    for path in documentation_files():
        text = path.read_text(encoding="utf-8")
        for target in MARKDOWN_LINK.findall(CODE.sub("", text)):
            if re.match(r"^[a-z]+://|^mailto:|^#", target):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            if ROOT not in resolved.parents and resolved != ROOT:
                outside.append(f"{path.relative_to(ROOT)}: {target}")
            elif not resolved.exists():
                outside.append(f"{path.relative_to(ROOT)}: {target} (missing)")
        if "../shared" in text:
            outside.append(f"{path.relative_to(ROOT)}: refers to ../shared")
    assert outside == []


def test_no_source_or_config_file_refers_outside_the_repository():
    this_test = str(Path(__file__).relative_to(ROOT))
    offenders = [name for name in tracked_files() if name != this_test
                 if name.endswith((".py", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".json")) or name in ("Makefile", "Dockerfile")
                 if "../shared" in (ROOT / name).read_text(encoding="utf-8", errors="replace")]
    assert offenders == []


def test_the_readme_lists_every_top_level_folder():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Where things live"):]
    section = section[:section.index("\n## ", 3)]
    folders = {name.split("/")[0] for name in tracked_files() if "/" in name} | RUNTIME_FOLDERS
    missing = sorted(folder for folder in folders if f"`{folder}/" not in section)
    assert missing == []
