"""Print a content hash of the files a build step depends on (`make` compares it to the last).

    python -m scripts.fingerprint model       # config.yml, domain.yml, data/, rasa_addons/
    python -m scripts.fingerprint knowledge   # knowledge/

Content hashes, unlike file times, survive a fresh clone or a `git checkout` of the same files.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = {
    "model": ["config.yml", "domain.yml", "data", "rasa_addons", "requirements/rasa-nodeps.txt"],
    "knowledge": ["knowledge"],
}


def fingerprint(kind: str) -> str:
    digest = hashlib.sha256()
    for entry in INPUTS[kind]:
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".pyc",) or "__pycache__" in file.parts or not file.exists():
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(fingerprint(sys.argv[1] if len(sys.argv) > 1 else "model"))
