"""The patch layer (rasa_addons/patches.py): every replacement of a Rasa internal is declared, checked
against the source it was written for, applied only by ``apply()`` and switched by RASA_PATCHES.

- each declared target's source hash is the recorded one (a Rasa upgrade fails here, loudly);
- a patch whose target differs from the recorded hash refuses to apply and says which target;
  the patches that require it are skipped, the independent ones still apply;
- RASA_PATCHES=none applies nothing (Rasa's originals in place), "-rule_lookup" leaves out just that;
- importing rasa_addons and every module in it (components and patch modules) replaces nothing.

The Rasa side runs in .venv-rasa (one fresh process per scenario, as patches stay once applied).
"""
from __future__ import annotations

import json
import subprocess

import pytest

from rasa_addons import patches
from tests.performance.rasa_script import ROOT, RASA_PY

# What a target is right now, as the objects Rasa would call: for "module:Class.attr" the raw
# entry of the class's own __dict__ (None if absent), for a module its ``copy`` global, plus the
# attributes patches add (Slot.__copy__).
PRELUDE = r'''
import hashlib, importlib, json, logging, sys
from rasa_addons import patches

records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.getMessage()))
logging.getLogger("rasa_addons.patches").addHandler(Keep())

def identity(target):
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    if not qualname:
        return id(getattr(obj, "copy", None))
    *owners, attr = qualname.split(".")
    for part in owners:
        obj = getattr(obj, part)
    if not owners:  # a module-level function or a class
        return id(getattr(obj, attr))
    return id(obj.__dict__.get(attr))

def snapshot():
    out = {t: identity(t) for t in patches.all_targets()}
    from rasa.shared.core.slots import Slot
    out["Slot.__copy__"] = id(Slot.__dict__.get("__copy__"))
    return out
'''

IMPORTS_AND_OFF = PRELUDE + r'''
before = snapshot()
import pkgutil, rasa_addons
modules = [m.name for m in pkgutil.iter_modules(rasa_addons.__path__) if m.name != "launch"]
for name in modules:
    importlib.import_module("rasa_addons." + name)
importlib.import_module("rasa_addons.launch")  # its main() runs Rasa; importing it must do nothing
after_import = snapshot()
current = patches.current_hashes()
recorded = patches.recorded_sources()
status_none = patches.apply("none")
after_none = snapshot()
wrong_version = dict(recorded, rasa_version="3.6.20")
status_version = patches.apply("all", recorded=wrong_version)
after_version = snapshot()
import rasa
print(json.dumps({
    "modules": modules, "unchanged_by_import": before == after_import, "changed": [k for k in before if before[k] != after_import[k]],
    "current": current, "recorded": recorded, "rasa": rasa.__version__,
    "status_none": status_none, "unchanged_by_none": before == after_none,
    "status_version": status_version, "unchanged_by_version": before == after_version, "log": records,
}))
'''

WITHOUT_ONE = PRELUDE + r'''
before = snapshot()
status = patches.apply()  # RASA_PATCHES from the environment
after = snapshot()
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.trackers import DialogueStateTracker
print(json.dumps({
    "status": status, "changed": sorted(k for k in before if before[k] != after[k]),
    "rule_policy_module": RulePolicy._get_possible_keys.__module__,
    "applied_events_module": DialogueStateTracker.applied_events.__module__,
}))
'''

MODIFIED_HASHES = PRELUDE + r'''
before = snapshot()
recorded = patches.recorded_sources()
targets = dict(recorded["targets"])
targets["rasa.core.policies.rule_policy:RulePolicy._get_possible_keys"] = "0" * 64
targets["rasa.shared.core.trackers:DialogueStateTracker.copy"] = "1" * 64
status = patches.apply("all", recorded=dict(recorded, targets=targets))
after = snapshot()
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.trackers import DialogueStateTracker
print(json.dumps({
    "status": status, "changed": sorted(k for k in before if before[k] != after[k]), "log": records,
    "rule_policy_module": RulePolicy._get_possible_keys.__module__,
    "copy_module": DialogueStateTracker.copy.__module__,
    "action_call_format_module": RemoteAction._action_call_format.__module__,
    "applied_events_module": DialogueStateTracker.applied_events.__module__,
}))
'''


def run(script: str, patches_setting: str = "all") -> dict:
    if not RASA_PY.exists():
        pytest.skip(".venv-rasa is not built (make envs)")
    out = subprocess.run([str(RASA_PY), "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false",
                              "RASA_PATCHES": patches_setting})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh() -> dict:
    return run(IMPORTS_AND_OFF)


def test_every_target_is_the_source_its_patch_was_written_against(fresh: dict) -> None:
    """On a Rasa upgrade this fails: review each patch named below against the new source, then
    record it with `PYTHONPATH=. .venv-rasa/bin/python -m rasa_addons.patches --write`."""
    assert fresh["rasa"] == patches.RASA_VERSION == fresh["recorded"]["rasa_version"]
    declared = patches.all_targets()
    assert sorted(fresh["recorded"]["targets"]) == sorted(declared), "patch_sources.json and PATCHES disagree"
    differing = {t: [p.name for p in patches.PATCHES if t in p.targets] for t in declared
                 if fresh["current"][t] != fresh["recorded"]["targets"][t]}
    assert not differing, f"Rasa source differs from what these patches were written against: {differing}"


def test_importing_rasa_addons_and_every_module_in_it_patches_nothing(fresh: dict) -> None:
    assert {"cascade_classifier", "escalation_policy", "sqlite_stores", "sentence_count_vectors", "privacy_endpoint",
            "minilm", "rasa_runtime", "action_call", "rule_lookup", "patches"} <= set(fresh["modules"])
    assert fresh["unchanged_by_import"], f"imported modules replaced {fresh['changed']}"


def test_none_applies_nothing_and_leaves_rasas_originals(fresh: dict) -> None:
    assert set(fresh["status_none"].values()) == {"disabled"}
    assert set(fresh["status_none"]) == {p.name for p in patches.PATCHES}
    assert fresh["unchanged_by_none"]


def test_another_rasa_version_refuses_every_patch(fresh: dict) -> None:
    assert all(s.startswith("refused:") and "3.6.20" in s for s in fresh["status_version"].values())
    assert fresh["unchanged_by_version"]
    refusals = [m for level, m in fresh["log"] if level == "ERROR" and "REFUSED" in m]
    assert len(refusals) == len(patches.PATCHES)


def test_minus_name_leaves_out_just_that_patch() -> None:
    out = run(WITHOUT_ONE, "-rule_lookup")
    assert out["status"]["rule_lookup"] == "disabled"
    assert {n for n, s in out["status"].items() if s == "applied"} == {p.name for p in patches.PATCHES} - {"rule_lookup"}
    assert out["rule_policy_module"] == "rasa.core.policies.rule_policy"  # Rasa's own
    assert out["applied_events_module"] == "rasa_addons.applied_events"
    assert not [t for t in out["changed"] if t.startswith("rasa.core.policies.rule_policy:RulePolicy")]


def test_a_patch_whose_target_changed_refuses_and_says_which() -> None:
    out = run(MODIFIED_HASHES)
    status = out["status"]
    assert status["rule_lookup"].startswith("refused:") and "RulePolicy._get_possible_keys" in status["rule_lookup"]
    assert status["rasa_runtime"].startswith("refused:") and "DialogueStateTracker.copy" in status["rasa_runtime"]
    # action_call needs rasa_runtime (its body is written by rasa_runtime's session): skipped
    assert status["action_call"].startswith("skipped:") and "rasa_runtime" in status["action_call"]
    # independent ones still apply; domain_digest wraps Rasa's own action-call body then
    assert {n for n, s in status.items() if s == "applied"} == {"action_validation", "debug_log_copies",
                                                                "domain_digest", "applied_events"}
    assert out["rule_policy_module"] == "rasa.core.policies.rule_policy"
    assert out["copy_module"] == "rasa.shared.core.trackers"
    assert out["action_call_format_module"] == "rasa_addons.domain_digest"
    assert out["applied_events_module"] == "rasa_addons.applied_events"
    errors = [m for level, m in out["log"] if level == "ERROR"]
    assert any("rule_lookup" in m and "REFUSED" in m and "RulePolicy._get_possible_keys" in m for m in errors)
    assert any("rasa_runtime" in m and "REFUSED" in m and "DialogueStateTracker.copy" in m for m in errors)
    assert any("action_call" in m and "rasa_runtime" in m for m in errors)


@pytest.mark.parametrize("setting, expected", [
    ("all", [p.name for p in patches.PATCHES]),
    ("", [p.name for p in patches.PATCHES]),
    ("none", []),
    ("rule_lookup, applied_events", ["rule_lookup", "applied_events"]),
    ("-rule_lookup", [p.name for p in patches.PATCHES if p.name != "rule_lookup"]),
    ("all,-rule_lookup,-debug_log_copies", [p.name for p in patches.PATCHES if p.name not in ("rule_lookup", "debug_log_copies")]),
])
def test_rasa_patches_setting(setting: str, expected: list) -> None:
    assert patches.selected(setting) == expected


@pytest.mark.parametrize("setting", ["rule_lookpu", "-nope", "none,rule_lookup"])
def test_an_unknown_name_is_an_error_not_a_silent_no_op(setting: str) -> None:
    with pytest.raises(ValueError):
        patches.selected(setting)


def test_dependencies_are_declared_in_apply_order() -> None:
    order = [p.name for p in patches.PATCHES]
    for patch in patches.PATCHES:
        for other in patch.requires + patch.after:
            assert other in order and order.index(other) < order.index(patch.name), (patch.name, other)
    assert patches.BY_NAME["action_call"].requires == ("rasa_runtime",)
    assert "action_call" in patches.BY_NAME["domain_digest"].after
