"""Every regular expression this project runs over text, collected for the linear-time guard
(tests/limits/test_linear_patterns.py and ``python -m tests.limits.patterns`` for a timing table).

* ``data_patterns()``: the ``regex:`` entries and lookup tables under data/, as Rasa's
  RegexFeaturizer compiles them (lookup tables become ``(\\bA\\b|\\bB\\b|...)``; config.yml sets
  ``case_sensitive: false``, so IGNORECASE).
* ``code_patterns()``: every ``re.compile/search/match/fullmatch/sub/subn/findall/finditer/split``
  call with a literal pattern in the project's code (read from the source, so functions' inline
  patterns count too), plus the compiled patterns the importable modules hold at module level
  (the ones built at import time, e.g. actions/triage.py's keyword lists).

Every module is covered, the personal-data patterns (actions/pii.py, actions/card_numbers.py)
included; tests/security/test_pii.py has their own 1 MB checks as well.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("actions", "channels", "rasa_addons", "demo_backend", "scripts", "bench")
EXCLUDED: dict = {}  # modules left out of the guard, with the reason (none now)
RE_FUNCTIONS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split"}


@dataclass(frozen=True)
class Found:
    where: str  # "data/nlu/entities.yml regex email #0" or "actions/triage.py:53"
    pattern: "re.Pattern[str]"
    #: how the code uses it: "match"/"fullmatch" (anchored at the start) or "finditer" (every
    #: start position, as search/sub/findall/split do and as Rasa's featurizer does)
    mode: str = "finditer"

    @property
    def key(self) -> Tuple[str, int]:
        return self.pattern.pattern, self.pattern.flags


# --- data/ -----------------------------------------------------------------------------------

def lookup_regex(elements: Iterable[str]) -> str:
    """What rasa.nlu.utils.pattern_utils._generate_lookup_regex builds (use_word_boundaries)."""
    return "(\\b" + "\\b|\\b".join(re.escape(e) for e in elements) + "\\b)"


def _examples(block: Any) -> List[str]:
    if isinstance(block, list):
        return [str(e) for e in block]
    return [line.strip()[2:] for line in str(block or "").splitlines() if line.strip().startswith("- ")]


def data_patterns(data_dir: Path = ROOT / "data") -> List[Found]:
    found: List[Found] = []
    for path in sorted(data_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for item in doc.get("nlu") or []:
            rel = path.relative_to(ROOT)
            if "regex" in item:
                for i, example in enumerate(_examples(item.get("examples"))):
                    found.append(Found(f"{rel} regex {item['regex']} #{i}", re.compile(example, re.IGNORECASE)))
            elif "lookup" in item:
                found.append(Found(f"{rel} lookup {item['lookup']}",
                                   re.compile(lookup_regex(_examples(item.get("examples"))), re.IGNORECASE)))
    return found


# --- code ------------------------------------------------------------------------------------

def _source_files() -> Iterator[Path]:
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if str(path.relative_to(ROOT)) not in EXCLUDED:
                yield path


def _literal(node: ast.AST, names: Dict[str, Any]) -> Any:
    """The value of a constant expression: literals, ``+``/``|`` of them, re.FLAG, module constants."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "re":
        return getattr(re, node.attr)
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.BitOr)):
        left, right = _literal(node.left, names), _literal(node.right, names)
        return left + right if isinstance(node.op, ast.Add) else left | right
    raise ValueError("not a constant")


def _module_constants(tree: ast.Module) -> Dict[str, Any]:
    names: Dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = _literal(node.value, names)
            except (ValueError, AttributeError, TypeError):
                pass
    return names


def literal_call_sites() -> Tuple[List[Found], List[str]]:
    """Patterns written inline in ``re.<function>(...)`` calls; and the call sites whose pattern is
    built at run time (reported, and covered by ``module_level_patterns`` where they are global)."""
    found: List[Found] = []
    dynamic: List[str] = []
    for path in _source_files():
        tree = ast.parse(path.read_text(), str(path))
        names = _module_constants(tree)
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                    and node.func.attr in RE_FUNCTIONS and node.args):
                continue
            where = f"{rel}:{node.lineno}"
            try:
                pattern = _literal(node.args[0], names)
            except (ValueError, AttributeError, TypeError):
                dynamic.append(where)
                continue
            if not isinstance(pattern, str):
                dynamic.append(where)
                continue
            flags = 0
            flag_nodes = [kw.value for kw in node.keywords if kw.arg == "flags"]
            position = {"compile": 1, "search": 2, "match": 2, "fullmatch": 2, "findall": 2, "finditer": 2,
                        "split": 3, "sub": 4, "subn": 4}[node.func.attr]
            if len(node.args) > position:
                flag_nodes.append(node.args[position])
            for flag_node in flag_nodes:
                try:
                    flags |= int(_literal(flag_node, names))
                except (ValueError, AttributeError, TypeError):
                    flags |= re.IGNORECASE  # unknown flags: the case-insensitive variant is the slower one
            mode = node.func.attr if node.func.attr in ("match", "fullmatch") else "finditer"
            found.append(Found(where, re.compile(pattern, flags), mode))
    return found, dynamic


def _patterns_in(value: Any, depth: int = 0) -> Iterator["re.Pattern[str]"]:
    if isinstance(value, re.Pattern):
        if isinstance(value.pattern, str):
            yield value
    elif depth < 3 and isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _patterns_in(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, depth + 1)


def module_level_patterns() -> Tuple[List[Found], List[str]]:
    """Compiled patterns held by the modules that import in this environment (Rasa-only modules
    do not; their inline patterns are still read from the source)."""
    found: List[Found] = []
    skipped: List[str] = []
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    excluded_keys = set()  # patterns defined in an excluded module and imported elsewhere
    for rel in EXCLUDED:
        try:
            module = importlib.import_module(rel[:-3].replace("/", "."))
        except Exception:  # noqa: BLE001
            continue
        excluded_keys |= {(p.pattern, p.flags) for v in vars(module).values() for p in _patterns_in(v)}
    for path in _source_files():
        rel = path.relative_to(ROOT)
        module_name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        if path.name == "__main__.py":  # importing it would run it
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - a module needing Rasa (or a service) is read from source only
            skipped.append(str(rel))
            continue
        for name, value in vars(module).items():
            if getattr(value, "__module__", module_name) != module_name and isinstance(value, type):
                continue
            for pattern in _patterns_in(value):
                if (pattern.pattern, pattern.flags) not in excluded_keys:
                    found.append(Found(f"{rel} {name}", pattern))
    return found, skipped


def code_patterns() -> List[Found]:
    literal, _ = literal_call_sites()
    module_level, _ = module_level_patterns()
    unique: Dict[Tuple[str, int], Found] = {}
    for item in literal + module_level:
        unique.setdefault(item.key, item)
    return list(unique.values())


# --- adversarial text ------------------------------------------------------------------------

#: Repeated to the test size. Single characters make long runs of one character class (the
#: classic "X+ then something that never comes" backtracking); pairs and short words make runs
#: that keep almost matching (e-mail-like, number-like, markdown-like, sentence-like).
ADVERSARIAL_UNITS = [
    "a", "A", "1", " ", ".", "-", "_", "@", "#", "$", "!", "?", "*", "[", "(", "'", ",", ":", "|", "\n", "\t",
    "a.", "a@", "a-", "a ", "A ", "1.", "1,", "1 ", "1-", "$1", "! ", "? ", "!?", "@a", "a@a", "a@a.", "a.@",
    "**a", "__a", "[a", "[a](", "# a ", "- a", "bc1", "bc-1", "BC-1", "not ", "no a ", "a\n", " \n", ". A",
    "a1", "A1", "1a", "http://a", "www.a", "aaaa ", "123456",
]


#: (start, repeated unit, end): a start that anchored patterns need, then a long run that
#: almost continues it (a heading, a citation line, a link, a negation followed by spaces)
FRAMED = [
    ("# a", " ", "b"), ("# a", "#", "b"), ("sources", " ", "x"), ("[a](", "a", ""), ("[a](", "(", ""),
    ("a@", "a", "@"), ("a@a.", "a", "-"), ("not", " ", "x"), ("1", " ", "x"), ("$", "1", "x"), ("|", "-", "x"),
    ("- ", " ", ""), ("a", " ", "."), ("**", "a", "_"), ("(", "a", ""),
]


def adversarial_texts(size: int) -> Iterator[Tuple[str, str]]:
    """(label, text of ``size`` characters): each unit repeated, then repeated and ended by a
    character nothing continues (so a run that would match up to the end fails at the end)."""
    for unit in ADVERSARIAL_UNITS:
        yield repr(unit), (unit * (size // len(unit) + 1))[:size]
        yield repr(unit) + "+NUL", (unit * (size // len(unit) + 1))[:size - 1] + "\x00"
    for start, unit, end in FRAMED:
        yield f"{start!r}+{unit!r}*+{end!r}", start + unit * (size - len(start) - len(end)) + end


def run_time(pattern: "re.Pattern[str]", text: str, mode: str = "finditer") -> float:
    """Seconds for what the code does with the pattern: every match over the text (search, sub,
    findall and Rasa's featurizer try every start), or one anchored match."""
    started = time.perf_counter()
    if mode == "finditer":
        for _ in pattern.finditer(text):
            pass
    else:
        getattr(pattern, mode)(text)
    return time.perf_counter() - started


FULL_SIZE = 1_000_000
BUDGET_SECONDS = 1.0  # per 1 MB input
#: Rasa builds a lookup table as one alternation of every entry, each tried at every position:
#: linear, but ~3 s a MB for the 134 products on adversarial text (0.35 s on English). The
#: message limit (2000 characters) makes that <= 7 ms a message; the budget here only has to
#: catch a quadratic regression.
LOOKUP_BUDGET_SECONDS = 12.0


#: patterns the code only ever runs on a bounded piece of text (a card candidate of at most 38
#: characters), so 1 MB is far beyond their use: linear, but with a larger constant per position
BOUNDED_INPUT = ("actions/card_numbers.py _LOOSE_PREFIX_RES", "actions/card_numbers.py _FOURS_RE")


def budget(found: Found) -> float:
    if " lookup " in found.where or found.where.startswith(BOUNDED_INPUT):
        return LOOKUP_BUDGET_SECONDS
    return BUDGET_SECONDS


def check(found: Found, keep: int = 3) -> Tuple[float, str, int]:
    """(worst seconds, its input, size) for ``found``, stopping early when a small input already
    shows quadratic time (so a regression fails in seconds instead of running for hours).

    Inputs are tried at 2 kB and 16 kB with the 1 MB budget scaled down 20x generously (linear
    time scales with size; a quadratic pattern blows the scaled budget at once); the ``keep``
    slowest at 16 kB then run at 1 MB against the budget itself."""
    limit = budget(found)
    for size in (2_000, 16_000):
        allowed = limit * size / FULL_SIZE * 20
        timings = []
        for label, text in adversarial_texts(size):
            seconds = run_time(found.pattern, text, found.mode)
            if seconds > allowed:
                return seconds, label, size
            timings.append((seconds, label))
    slowest = {label for _, label in sorted(timings, reverse=True)[:keep]}
    worst = (0.0, "", FULL_SIZE)
    for label, text in adversarial_texts(FULL_SIZE):
        if label in slowest:
            worst = max(worst, (run_time(found.pattern, text, found.mode), label, FULL_SIZE))
    return worst


def main(argv: Optional[List[str]] = None) -> int:
    literal, dynamic = literal_call_sites()
    _, skipped = module_level_patterns()
    print(f"dynamic call sites (covered through module globals where global): {dynamic}")
    print(f"modules read from source only (do not import here): {skipped}")
    for item in data_patterns() + code_patterns():
        seconds, label, at = check(item)
        flag = "SLOW" if seconds > budget(item) * at / FULL_SIZE else "ok"
        print(f"{flag:4} {seconds * 1000:10.1f} ms at {at:>7} chars  {label:24} {item.mode:9} {item.where}  "
              f"{item.pattern.pattern[:60]!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
