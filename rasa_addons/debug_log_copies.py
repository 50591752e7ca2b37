"""Rasa's debug-log deep copies, made only when debug logging is on.

Rasa 3.6 logs its per-turn decisions with ``structlogger.debug(..., x=copy.deepcopy(y))``: the
parse, the events of every action, the states the memoization and rule policies looked at, the
form's slot candidates. Python evaluates the arguments before the call, so every turn deep-copied
those states and events (3-4 % of Rasa's CPU under the bench's load) only for structlog to drop
the message when the level is above DEBUG, as it is in production.

In the modules below, every use of ``copy`` is such a debug-log argument; that is checked on the
module's source (its syntax tree) before anything is changed, so a Rasa version that uses ``copy``
there for anything else keeps its module untouched. Their ``copy`` is replaced by a stand-in whose
``deepcopy`` returns its argument as it is while structlog's configured logger drops debug
messages (``make_filtering_bound_logger`` makes ``debug`` a no-op, ``structlog._native._nop``), and
copies as before otherwise; the stand-in has everything else of ``copy`` too. The logged values are
then not copied, but they are not logged either. ``MessageProcessor._log_slots``, which formats every
slot's value into one string for a debug message twice a turn, likewise returns at once then.
"""
from __future__ import annotations

import ast
import copy
import importlib
import inspect
import types
from typing import Any, Dict, List, Optional, Text

#: the modules Rasa runs on every turn whose ``copy`` serves debug logs only
MODULES = (
    "rasa.core.processor",
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
    "rasa.core.actions.forms",
)

_installed: List[Text] = []

#: SHA-256 of Rasa 3.6.21's ``MessageProcessor._log_slots``: it only joins every slot's value into
#: one string for a debug message (twice a turn); another version of it is left alone
_LOG_SLOTS_SOURCE_SHA256 = "cfc60d6857d3466daafdacdbb838cbaa702e7657af6e5843c4f5ff99d2344db1"


def debug_dropped() -> bool:
    """Whether structlog's configured loggers drop debug messages without looking at them."""
    try:
        import structlog
        from structlog._native import _nop
    except ImportError:  # another structlog: assume the messages are kept
        return False
    wrapper = structlog.get_config().get("wrapper_class")
    return getattr(wrapper, "debug", None) is _nop


def _deepcopy(value: Any, memo: Optional[Dict[int, Any]] = None) -> Any:
    if debug_dropped():
        return value
    return copy.deepcopy(value, memo)


def _stand_in() -> types.ModuleType:
    module = types.ModuleType("copy", copy.__doc__)
    module.__dict__.update({name: value for name, value in vars(copy).items() if not name.startswith("__")})
    module.deepcopy = _deepcopy  # type: ignore[attr-defined]
    return module


_COPY = _stand_in()


def copies_only_for_debug_logs(source: Text) -> bool:
    """Whether every ``copy.<name>`` in ``source`` is ``copy.deepcopy(...)`` passed as a keyword
    argument of a ``structlogger.debug(...)`` call, and ``copy`` is not rebound or passed around."""
    tree = ast.parse(source)
    allowed = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "debug"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "structlogger"):
            for keyword in node.keywords:
                value = keyword.value
                if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                        and value.func.attr == "deepcopy" and isinstance(value.func.value, ast.Name)
                        and value.func.value.id == "copy"):
                    allowed.add(id(value.func.value))
    uses = [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "copy"]
    # the module is imported once, as ``import copy`` at the top level, under no other name
    imports = [node for node in ast.walk(tree)
               if (isinstance(node, ast.Import) and any(alias.name == "copy" or alias.asname == "copy" for alias in node.names))
               or (isinstance(node, ast.ImportFrom) and (node.module == "copy" or any(
                   (alias.asname or alias.name) == "copy" for alias in node.names)))]
    plain_import = (len(imports) == 1 and isinstance(imports[0], ast.Import) and imports[0].col_offset == 0
                    and [(a.name, a.asname) for a in imports[0].names] == [("copy", None)])
    return bool(uses) and plain_import and all(id(node) in allowed for node in uses)


def _slots_logged_only_for_debug(original: Any) -> Any:
    def _log_slots(tracker: Any) -> None:
        if not debug_dropped():
            original(tracker)

    _log_slots.__doc__ = original.__doc__
    _log_slots.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(_log_slots)


def _install_log_slots() -> bool:
    """``MessageProcessor._log_slots`` formats every slot value for a debug message; it now returns
    at once while debug messages are dropped (only for the version whose source is known)."""
    import hashlib

    from rasa.core.processor import MessageProcessor

    current = MessageProcessor.__dict__.get("_log_slots")
    function = getattr(current, "__func__", None)
    if function is None or hasattr(function, "__wrapped__"):
        return function is not None
    source = inspect.getsource(function)
    if hashlib.sha256(source.encode("utf-8")).hexdigest() != _LOG_SLOTS_SOURCE_SHA256:
        return False
    MessageProcessor._log_slots = _slots_logged_only_for_debug(function)
    return True


def install(modules: tuple = MODULES) -> List[Text]:
    """Give each of ``modules`` whose source passes :func:`copies_only_for_debug_logs` the
    stand-in, and skip the slot summary of debug logs (``_install_log_slots``); returns what was
    changed (idempotent)."""
    if _install_log_slots() and "MessageProcessor._log_slots" not in _installed:
        _installed.append("MessageProcessor._log_slots")
    for name in modules:
        if name in _installed:
            continue
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is not copy or not copies_only_for_debug_logs(inspect.getsource(module)):
            continue
        module.copy = _COPY  # type: ignore[attr-defined]
        _installed.append(name)
    return list(_installed)


__all__ = ["install", "debug_dropped", "copies_only_for_debug_logs", "MODULES"]
