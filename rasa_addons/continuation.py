"""What the computations continued from a conversation's previous call share (action_call,
dialogue_states, the SQLite store's session cache): how far two sequences agree, and a bounded
memory of the most recently used conversations."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Sequence


def common_prefix(mine: Sequence[Any], theirs: Sequence[Any]) -> int:
    """How many leading items ``mine`` and ``theirs`` share (compared with ``==``; one C-level
    comparison when all of the shorter one is shared, which is the usual case)."""
    common = min(len(mine), len(theirs))
    if mine[:common] != theirs[:common]:
        common = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
    return common


def remember(memory: "OrderedDict[Hashable, Any]", key: Hashable, value: Any, limit: int) -> None:
    """Store ``value`` as the most recent entry, dropping the least recently used beyond ``limit``."""
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > limit:
        memory.popitem(last=False)
