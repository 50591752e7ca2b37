"""The patch layer: every replacement of a Rasa internal, declared and applied from this one place.

rasa_addons holds two kinds of code. Components Rasa loads by name from config.yml, endpoints.yml
and credentials.yml (cascade_classifier, escalation_policy, sqlite_stores, sentence_count_vectors,
privacy_endpoint, minilm*) change nothing in Rasa. The modules declared below (``PATCHES``) replace
Rasa internals with cheaper exact equivalents, by assignment. Nothing is replaced on import:
:func:`apply` does it, called by the one entry point that launches Rasa
(``python -m rasa_addons.launch <rasa arguments>``, rasa_addons/launch.py) and by tests that check
a replacement against Rasa's original.

Each patch names every Rasa target it replaces or reproduces (``module:Qualified.name``, or a
module alone when the patch swaps a module global), and rasa_addons/patch_sources.json records the
Rasa version and the SHA-256 of each target's source (``inspect.getsource``) as it was when the
patch was written. :func:`apply` checks the installed Rasa version and every target's current
source first, before anything is replaced; a patch whose target differs refuses to apply and logs
an error naming the patch and the target; so does a patch that requires a refused or disabled one.
The others still apply. ``python -m rasa_addons.patches`` prints the current hashes
(``--write`` records them, after a reviewed upgrade).

Switch: the environment variable ``RASA_PATCHES``: ``all`` (default), ``none``, a comma-separated
list of patch names to apply (``rule_lookup,applied_events``), or ``-name`` entries to leave one out
of all (``-rule_lookup,-debug_log_copies``).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"
SOURCES_FILE = Path(__file__).with_name("patch_sources.json")
ENV_VAR = "RASA_PATCHES"


def _install_action_validation() -> None:
    from rasa_addons import action_validation

    action_validation.install()


def _install_debug_log_copies() -> None:
    from rasa_addons import debug_log_copies

    debug_log_copies.install()


def _install_rasa_runtime() -> None:
    from rasa_addons import rasa_runtime

    rasa_runtime.install()


def _install_action_call() -> None:
    from rasa_addons import action_call, rasa_runtime

    action_call.install(rasa_runtime.plain_json_body)


def _install_domain_digest() -> None:
    from rasa_addons import domain_digest

    domain_digest.install()


def _install_rule_lookup() -> None:
    from rasa_addons import rule_lookup

    rule_lookup.install()


def _install_applied_events() -> None:
    from rasa_addons import applied_events

    applied_events.install()


@dataclass(frozen=True)
class Patch:
    """One replacement: its name, the modules implementing it, what it replaces, how it installs.

    ``requires``: patches it cannot work without (skipped, with an error, when one of those is not
    applied). ``after``: patches it must be installed after when they are applied (it wraps what
    they install), but works without."""

    name: Text
    modules: Tuple[Text, ...]
    targets: Tuple[Text, ...]
    install: Callable[[], None]
    summary: Text
    requires: Tuple[Text, ...] = ()
    after: Tuple[Text, ...] = ()
    rasa_version: Text = RASA_VERSION


#: in the order they are applied
PATCHES: Tuple[Patch, ...] = (
    Patch(
        "action_validation", ("rasa_addons.action_validation",),
        ("rasa.core.actions.action:RemoteAction._validate_action_result",
         "rasa.server:validate_events_in_request_body"),
        _install_action_validation,
        "action-server answers and API-appended events validated with a validator built once, short path for valid events",
    ),
    Patch(
        "debug_log_copies", ("rasa_addons.debug_log_copies",),
        # the whole module: its ``copy`` global is swapped after checking every use serves a debug log
        ("rasa.core.processor", "rasa.core.policies.memoization", "rasa.core.policies.rule_policy",
         "rasa.core.actions.forms", "rasa.core.processor:MessageProcessor._log_slots"),
        _install_debug_log_copies,
        "deep copies for debug-log arguments (and the slot summary) skipped while debug messages are dropped",
    ),
    Patch(
        "rasa_runtime", ("rasa_addons.rasa_runtime", "rasa_addons.dialogue_states", "rasa_addons.continuation"),
        ("rasa.shared.core.events:Event.resolve_by_type",
         "rasa.shared.core.slots:Slot",  # gains a __copy__ equal to copy's generic path for its instances
         "rasa.engine.runner.dask:DaskGraphRunner.run",
         "rasa.utils.endpoints:EndpointConfig.session",
         "rasa.utils.endpoints:EndpointConfig.request",  # uses the kept session, its JSON body written by ujson
         "rasa.shared.core.trackers:DialogueStateTracker.copy",
         "rasa.shared.core.trackers:DialogueStateTracker.past_states",
         "rasa.shared.core.domain:Domain.states_for_tracker_history",  # dialogue_states continues it step by step
         "rasa.shared.core.domain:Domain.is_empty",
         "rasa.shared.core.trackers:DialogueStateTracker.from_events",
         "rasa.core.actions.action:ActionExtractSlots._execute_validation_action",
         "rasa.core.actions.forms:FormAction._temporary_tracker"),
        _install_rasa_runtime,
        "event-class lookup, slot copies, graph runs, kept action-server sessions, tracker copies, "
        "past states (continued by dialogue_states), from_events during slot extraction, Domain.is_empty",
    ),
    Patch(
        "action_call", ("rasa_addons.action_call", "rasa_addons.continuation"),
        ("rasa.core.actions.action:RemoteAction._action_call_format",),
        _install_action_call,
        "the action-call body with each event's JSON reused from the conversation's previous call",
        requires=("rasa_runtime",),  # its body is written by rasa_runtime's kept session (json_body)
    ),
    Patch(
        "domain_digest", ("rasa_addons.domain_digest",),
        ("rasa.core.actions.action:RemoteAction._action_call_format",
         "rasa.core.actions.action:RemoteAction.run"),
        _install_domain_digest,
        "the domain sent to the action server once, then its digest (endpoints.yml domain_digest: true)",
        after=("action_call",),  # wraps the action-call body action_call installs (or Rasa's)
    ),
    Patch(
        "rule_lookup", ("rasa_addons.rule_lookup",),
        ("rasa.core.policies.rule_policy:RulePolicy._get_possible_keys",
         "rasa.core.policies.rule_policy:RulePolicy._is_rule_applicable"),
        _install_rule_lookup,
        "RulePolicy's rule search over the last states only, rules decoded once per lookup",
    ),
    Patch(
        "applied_events", ("rasa_addons.applied_events",),
        ("rasa.shared.core.trackers:DialogueStateTracker.applied_events",),
        _install_applied_events,
        "a tracker's applied events with isinstance answered once per event class, remembered per event list",
    ),
)

BY_NAME: Dict[Text, Patch] = {patch.name: patch for patch in PATCHES}

#: name -> "applied" | "refused: ..." | "disabled" | "skipped: ..." for the latest apply()
status: Dict[Text, Text] = {}
_applied: List[Text] = []


def _unwrap(value: Any) -> Any:
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    return value


def resolve(target: Text) -> Any:
    """The object ``target`` names: ``pkg.module`` or ``pkg.module:Name`` or ``pkg.module:Class.attr``
    (looked up in the class's own ``__dict__``, so a staticmethod's or classmethod's function)."""
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    if not qualname:
        return obj
    for part in qualname.split("."):
        namespace = getattr(obj, "__dict__", {})
        obj = _unwrap(namespace[part]) if part in namespace else getattr(obj, part)
    return obj


def source_hash(target: Text) -> Text:
    """SHA-256 of ``inspect.getsource`` of what ``target`` names now."""
    source = inspect.getsource(resolve(target))
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def recorded_sources() -> Dict[Text, Any]:
    """``{"rasa_version": ..., "targets": {target: sha256}}`` from patch_sources.json."""
    return json.loads(SOURCES_FILE.read_text())


def all_targets() -> List[Text]:
    seen: List[Text] = []
    for patch in PATCHES:
        seen.extend(t for t in patch.targets if t not in seen)
    return seen


def current_hashes(targets: Optional[Sequence[Text]] = None) -> Dict[Text, Text]:
    """Each target's current source hash ("missing: <error>" when it cannot be read)."""
    out = {}
    for target in targets or all_targets():
        try:
            out[target] = source_hash(target)
        except Exception as error:  # noqa: BLE001 - a missing target is a mismatch, reported as such
            out[target] = f"missing: {type(error).__name__}: {error}"
    return out


def selected(setting: Optional[Text] = None) -> List[Text]:
    """The patch names ``setting`` (default: ``RASA_PATCHES``, else "all") enables, in apply order.

    "all" / "" -> all; "none" -> none; "a,b" -> only those; "-a,-b" (or "all,-a") -> all but those.
    An unknown name raises ValueError (a typo must not silently leave a patch on or off)."""
    if setting is None:
        setting = os.environ.get(ENV_VAR, "all")
    entries = [e.strip() for e in setting.split(",") if e.strip()]
    if not entries or entries == ["all"]:
        return [p.name for p in PATCHES]
    if entries == ["none"]:
        return []
    includes = [e for e in entries if not e.startswith("-") and e != "all"]
    excludes = [e[1:] for e in entries if e.startswith("-")]
    unknown = [n for n in includes + excludes if n not in BY_NAME]
    if unknown or "none" in entries:
        raise ValueError(f"{ENV_VAR}={setting!r}: unknown patch name(s) {unknown or ['none']}; "
                         f"use all, none, or names/-names from {sorted(BY_NAME)}")
    base = includes if includes else [p.name for p in PATCHES]
    if "all" in entries:
        base = [p.name for p in PATCHES]
    return [p.name for p in PATCHES if p.name in base and p.name not in excludes]


def apply(setting: Optional[Text] = None, recorded: Optional[Dict[Text, Any]] = None) -> Dict[Text, Text]:
    """Apply the patches ``setting`` enables (see :func:`selected`) whose targets are unchanged.

    ``recorded`` replaces patch_sources.json (tests). Every target is hashed before any patch is
    installed (patches replace targets other patches also name). Returns and stores in ``status``
    what happened to every declared patch. Idempotent: an applied patch is not applied again."""
    enabled = selected(setting)
    recorded = recorded if recorded is not None else recorded_sources()
    hashes = recorded.get("targets", {})
    import rasa

    version = getattr(rasa, "__version__", "?")
    status.clear()
    pending = [p for p in PATCHES if p.name in enabled and p.name not in _applied]
    current = current_hashes([t for p in pending for t in p.targets])
    for patch in PATCHES:
        if patch.name in _applied:
            status[patch.name] = "applied"
            continue
        if patch.name not in enabled:
            status[patch.name] = "disabled"
            continue
        problem = None
        if version != patch.rasa_version or recorded.get("rasa_version") != patch.rasa_version:
            problem = (f"written for Rasa {patch.rasa_version} (sources recorded for {recorded.get('rasa_version')}), "
                       f"installed Rasa is {version}")
        else:
            for target in patch.targets:
                if hashes.get(target) is None:
                    problem = f"no recorded source hash for target {target}"
                elif current[target] != hashes[target]:
                    problem = (f"target {target} differs from the source it was written against "
                               f"(recorded sha256 {hashes[target][:12]}, now {current[target][:40]})")
                if problem:
                    break
        if problem is None:
            missing = [r for r in patch.requires if r not in _applied]
            if missing:
                problem = f"requires patch(es) {missing}, which are not applied"
                status[patch.name] = f"skipped: {problem}"
                logger.error("Rasa patch %s not applied: %s", patch.name, problem)
                continue
        if problem is not None:
            status[patch.name] = f"refused: {problem}"
            logger.error("Rasa patch %s REFUSED to apply: %s. Rasa's original code runs instead; "
                         "review the patch against the new source, then record it "
                         "(python -m rasa_addons.patches --write).", patch.name, problem)
            continue
        patch.install()
        _applied.append(patch.name)
        status[patch.name] = "applied"
    logger.info("Rasa patches (%s=%s): %s", ENV_VAR, setting if setting is not None else os.environ.get(ENV_VAR, "all"),
                ", ".join(f"{k} {v.split(':')[0]}" for k, v in status.items()))
    return dict(status)


def applied() -> List[Text]:
    return list(_applied)


def main(argv: Optional[List[Text]] = None) -> int:
    """Print each target's current source hash and whether it matches the recorded one;
    ``--write`` records the current hashes and Rasa version (run with no patch applied)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="record the current hashes in patch_sources.json")
    args = parser.parse_args(argv)
    import rasa

    current = current_hashes()
    try:
        recorded = recorded_sources().get("targets", {})
    except (OSError, ValueError):
        recorded = {}
    print(f"rasa {rasa.__version__}")
    for target, digest in current.items():
        mark = "ok" if recorded.get(target) == digest else "DIFFERS"
        print(f"{mark:8} {digest}  {target}")
    if args.write:
        SOURCES_FILE.write_text(json.dumps({"rasa_version": rasa.__version__, "targets": current}, indent=2) + "\n")
        print(f"wrote {SOURCES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
