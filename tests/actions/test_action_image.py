"""Each Docker image holds every project module its process imports.

The action server's image (Dockerfile) first, then the Rasa and backend images of the deployment
files (deploy/docker/, tests/deployment).

The Dockerfile copies `actions/` whole but only the few `rasa_addons` modules the action server
needs (the rest patch Rasa and import it). A new import of another project module from one of the
copied files would only fail when the image is run, so this walks the imports of every copied
Python file and checks that each project module it names is copied too. (Docker itself cannot run
on the development machine; the Dockerfile is read, not built.)
"""
from __future__ import annotations

import ast
import shlex
from pathlib import Path
from typing import Iterator, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the project's own top-level packages (everything else comes from the lock file)
PROJECT_PACKAGES = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}


def copied_files(dockerfile: str = "Dockerfile") -> Set[Path]:
    """Every file the Dockerfile's COPY instructions put into the image (sources relative to the
    build context, the repository root; folders expanded)."""
    files: Set[Path] = set()
    for line in (ROOT / dockerfile).read_text().replace("\\\n", " ").splitlines():  # continued lines joined
        if not line.strip().upper().startswith("COPY "):
            continue
        parts = shlex.split(line.strip())
        if any(p.startswith("--from") for p in parts):
            continue
        for source in parts[1:-1]:
            path = ROOT / source
            files.update(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else files.add(path)
    return files


#: imports that are not reached in the image, and why
NOT_RUN_IN_IMAGE = {
    ("actions/audit/replay.py", "scripts/stack.py"):
        "the replay command starts a Rasa server from a project checkout (a development tool)",
}


def _needs_rasa(node: ast.AST) -> bool:
    """``if importlib.util.find_spec("rasa") is not None:``: only run where Rasa is installed."""
    return isinstance(node, ast.If) and any(
        isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", None)) == "find_spec"
        and call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value == "rasa"
        for call in ast.walk(node.test))


def _import_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if _needs_rasa(child):
            continue  # the image has no Rasa
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child)


def project_imports(path: Path) -> Iterator[str]:
    """Dotted names of the project modules ``path`` imports (at any depth, relative imports
    resolved), except under a check that Rasa is installed."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from pkg import name`: name may be a module of pkg
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        yield from (n for n in names if n.split(".")[0] in PROJECT_PACKAGES)


def module_file(name: str) -> Path | None:
    """The file of project module ``name``, or None if ``name`` is not a module (an attribute)."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


#: each image and the module its process starts from
IMAGES = {
    "Dockerfile": "actions/server.py",
    "deploy/docker/rasa.Dockerfile": "rasa_addons/launch.py",
    "deploy/docker/backend.Dockerfile": "demo_backend/__main__.py",
}


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_every_project_module_the_image_imports_is_copied(dockerfile: str) -> None:
    copied = copied_files(dockerfile)
    assert ROOT / IMAGES[dockerfile] in copied
    missing = {}
    for path in sorted(p for p in copied if p.suffix == ".py"):
        for name in project_imports(path):
            target = module_file(name)
            pair = (str(path.relative_to(ROOT)), str(target.relative_to(ROOT)) if target else "")
            if target is not None and target not in copied and pair not in NOT_RUN_IN_IMAGE:
                missing.setdefault(str(target.relative_to(ROOT)), str(path.relative_to(ROOT)))
    assert not missing, f"imported but not copied into the image (module: imported by): {missing}"
