"""The intent catalog: what the assistant knows about each intent, as data (config/intents.yml).

One entry per intent: its risk class, product area, base urgency, and flags that triage, the
forms, the handoff, the knowledge prefetch and the audit read (the file's header explains each
field). This module loads and validates the file; the rest of the code asks it, e.g.::

    from actions.intent_catalog import get_catalog

    get_catalog().get("billing_dispute").risk          # "high"
    "order_status" in get_catalog().needs_backend      # True

Validation is complete and strict, like the escalation rules': unknown fields, values of the wrong
type or outside their vocabulary, intents that are not in domain.yml (Rasa's own intents aside)
and domain intents without an entry all raise :class:`IntentCatalogError`, whose message names the
file, the intent and the field. The action server loads the catalog at start-up
(actions/extensions.py), so a broken file stops it before it serves a single turn.

An intent the catalog does not list at run time (Rasa's ``out_of_scope``, or no intent at all) gets
the defaults: low risk, area from the message's words, normal urgency, every flag at its default.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional

import yaml

from actions.config import PROJECT_ROOT
from actions.escalation import BUILTIN_INTENTS, PRODUCT_AREAS, RISK_CLASSES, URGENCIES

logger = logging.getLogger(__name__)

DEFAULT_CATALOG_PATH = PROJECT_ROOT / "config" / "intents.yml"
HANDOFF_PRIORITIES = frozenset({"normal", "high"})


class IntentCatalogError(ValueError):
    """The intent catalog cannot be used; the message names the file, the intent and the field."""


@dataclass(frozen=True)
class IntentInfo:
    """One intent's entry (defaults: what an unlisted intent gets)."""

    name: str
    risk: str = "low"
    product_area: Optional[str] = None  # None: from the message's words
    urgency: str = "normal"
    needs_backend: bool = False
    knowledge_question: bool = False
    generic: bool = False
    complaint: bool = False
    form_non_answer: bool = False
    handoff_priority: str = "normal"
    carries_issue: bool = True
    fallback: bool = False
    customer_message: bool = True
    small_talk: bool = False


#: field -> (kind, allowed values or None); "choice" fields take one of the values, "area" a
#: product area or null, "bool" true/false
SCHEMA: Dict[str, tuple] = {
    "risk": ("choice", RISK_CLASSES),
    "product_area": ("area", PRODUCT_AREAS),
    "urgency": ("choice", URGENCIES),
    "needs_backend": ("bool", None),
    "knowledge_question": ("bool", None),
    "generic": ("bool", None),
    "complaint": ("bool", None),
    "form_non_answer": ("bool", None),
    "handoff_priority": ("choice", HANDOFF_PRIORITIES),
    "carries_issue": ("bool", None),
    "fallback": ("bool", None),
    "customer_message": ("bool", None),
    "small_talk": ("bool", None),
}
#: fields every entry must state (the others have the defaults of IntentInfo)
REQUIRED = ("risk", "product_area")
assert set(SCHEMA) == {f.name for f in fields(IntentInfo)} - {"name"}


class IntentCatalog:
    """The validated catalog, with the intent sets the code asks for."""

    def __init__(self, entries: Mapping[str, IntentInfo], path: Optional[Path] = None) -> None:
        self.entries: Dict[str, IntentInfo] = dict(entries)
        self.path = path
        self.high_risk = self.having("risk", "high")
        self.needs_backend = self.having("needs_backend")
        self.knowledge_questions = self.having("knowledge_question")
        self.generic = self.having("generic")
        self.complaints = self.having("complaint")
        self.form_non_answers = self.having("form_non_answer")
        self.high_priority = self.having("handoff_priority", "high")
        self.not_carrying_issue = self.having("carries_issue", False)
        self.fallbacks = self.having("fallback")
        self.not_customer_messages = self.having("customer_message", False)
        self.small_talk = self.having("small_talk")

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, name: Optional[str]) -> IntentInfo:
        """The entry of ``name``; the defaults for an intent the catalog does not list (or None)."""
        info = self.entries.get(name or "")
        return info if info is not None else IntentInfo(name=name or "")

    def having(self, field_name: str, value: Any = True) -> FrozenSet[str]:
        """Names of the listed intents whose ``field_name`` equals ``value``."""
        if field_name not in SCHEMA:
            raise KeyError(field_name)
        return frozenset(name for name, info in self.entries.items() if getattr(info, field_name) == value)


def _describe(value: Any) -> str:
    return "null" if value is None else repr(value)


def parse_catalog(data: Any, source: str = "<intents>", domain: Optional[FrozenSet[str]] = None) -> IntentCatalog:
    """Validate a loaded YAML document completely and build the catalog.

    ``domain``: the intents domain.yml declares (without Rasa's own); None skips the cross-check.
    """

    def fail(message: str) -> IntentCatalogError:
        return IntentCatalogError(f"{source}: {message}")

    if not isinstance(data, dict):
        raise fail("expected a mapping with the key 'intents'")
    unknown = set(data) - {"intents"}
    if unknown:
        raise fail(f"unknown top-level key(s): {', '.join(sorted(map(str, unknown)))} (allowed: intents)")
    intents = data.get("intents")
    if not isinstance(intents, dict) or not intents:
        raise fail("'intents' must be a non-empty mapping of intent name -> fields")
    entries: Dict[str, IntentInfo] = {}
    for name, spec in intents.items():
        if not isinstance(name, str) or not name:
            raise fail(f"intent name {_describe(name)} is not a text")
        label = f"intent {name!r}"
        if domain is not None and name not in domain and name not in BUILTIN_INTENTS:
            raise fail(f"{label} is not in domain.yml (add it under intents: there, or remove this entry)")
        if not isinstance(spec, dict):
            raise fail(f"{label}: expected a mapping of fields, e.g. {{risk: low, product_area: null}}")
        extra = set(spec) - set(SCHEMA)
        if extra:
            raise fail(f"{label}: unknown field(s) {', '.join(sorted(map(str, extra)))} "
                       f"(allowed: {', '.join(SCHEMA)})")
        for key in REQUIRED:
            if key not in spec:
                raise fail(f"{label}: field '{key}' is missing (required for every intent)")
        values: Dict[str, Any] = {}
        for key, value in spec.items():
            kind, allowed = SCHEMA[key]
            if kind == "bool":
                if not isinstance(value, bool):
                    raise fail(f"{label}: field '{key}' must be true or false, not {_describe(value)}")
            elif kind == "area":
                if value is not None and (not isinstance(value, str) or value not in allowed):
                    raise fail(f"{label}: field '{key}' must be one of {', '.join(sorted(allowed))} or null, "
                               f"not {_describe(value)}")
            elif not isinstance(value, str) or value not in allowed:
                raise fail(f"{label}: field '{key}' must be one of {', '.join(sorted(allowed))}, not {_describe(value)}")
            values[key] = value
        entries[name] = IntentInfo(name=name, **values)
    if domain is not None:
        missing = sorted(domain - set(entries))
        if missing:
            raise fail(f"intent(s) in domain.yml without an entry here: {', '.join(missing)} "
                       f"(every domain intent needs at least risk and product_area)")
    return IntentCatalog(entries)


def catalog_path() -> Path:
    explicit = os.environ.get("INTENT_CATALOG", "").strip()
    if not explicit:
        return DEFAULT_CATALOG_PATH
    path = Path(explicit)
    return path if path.is_absolute() else PROJECT_ROOT / path


def domain_intents(domain_path: Optional[Path] = None) -> Optional[FrozenSet[str]]:
    """The intents domain.yml declares (Rasa's own not included); None if it cannot be read
    (the action server image ships config/ but not domain.yml: the cross-check then runs in CI)."""
    path = domain_path or Path(os.environ.get("DOMAIN_PATH", "") or PROJECT_ROOT / "domain.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    return frozenset(next(iter(item)) if isinstance(item, dict) else str(item) for item in data.get("intents") or [])


_UNSET: Any = object()


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last one
    silently: a copied entry whose name was not changed would replace the original)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str) and key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"{key!r} is listed twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_catalog(path: Optional[Path] = None, domain: Optional[FrozenSet[str]] = _UNSET) -> IntentCatalog:
    """Read and validate a catalog file; raises IntentCatalogError with a clear message.

    ``domain`` defaults to domain.yml's intents (no cross-check when it cannot be read)."""
    path = Path(path or catalog_path())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise IntentCatalogError(f"{path}: cannot read the intent catalog ({error.strerror or error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise IntentCatalogError(f"{path}: not valid YAML: {error}") from None
    catalog = parse_catalog(data, str(path), domain_intents() if domain is _UNSET else domain)
    catalog.path = path
    return catalog


_lock = threading.Lock()
_catalog: Optional[IntentCatalog] = None


def get_catalog() -> IntentCatalog:
    """The process-wide catalog, loaded on first use (the server loads it at start-up)."""
    global _catalog
    if _catalog is None:
        with _lock:
            if _catalog is None:
                _catalog = load_catalog()
                logger.info("intent catalog: %d intents from %s", len(_catalog), _catalog.path)
    return _catalog


def set_catalog(catalog: Optional[IntentCatalog]) -> None:
    """Replace the process-wide catalog (tests; None reloads from the file on next use)."""
    global _catalog
    _catalog = catalog


__all__ = ["IntentCatalog", "IntentCatalogError", "IntentInfo", "get_catalog", "set_catalog", "load_catalog",
           "parse_catalog", "catalog_path", "domain_intents"]
