"""rasa_addons.debug_log_copies: Rasa's debug-log deep copies are skipped only while structlog drops
debug messages, only in modules whose every use of ``copy`` is such a log argument, and a debug
log still gets its copy."""
from __future__ import annotations

from tests.performance.rasa_script import run_in_rasa_env

SCRIPT = r'''
import copy, json, logging
import rasa.core.processor, rasa.core.policies.memoization, rasa.core.policies.rule_policy, rasa.core.actions.forms
import rasa.core.actions.action
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import debug_log_copies as dlc
from rasa.utils.log_utils import configure_structlog

out = {"installed": dlc.install(), "action_module_untouched": rasa.core.actions.action.copy is copy}
checks = {
    "log_only": "import copy\ndef f(x):\n    structlogger.debug('e', a=copy.deepcopy(x), b=1)\n",
    "real_copy": "import copy\ndef f(x):\n    structlogger.debug('e', a=copy.deepcopy(x))\n    return copy.deepcopy(x)\n",
    "shallow": "import copy\ndef f(x):\n    structlogger.debug('e', a=copy.copy(x))\n",
    "info_log": "import copy\ndef f(x):\n    structlogger.info('e', a=copy.deepcopy(x))\n",
    "positional": "import copy\ndef f(x):\n    structlogger.debug(copy.deepcopy(x))\n",
    "passed_on": "import copy\ndef f(x):\n    structlogger.debug('e', a=copy.deepcopy(x))\n    g(copy)\n",
    "from_import": "from copy import deepcopy\ndef f(x):\n    structlogger.debug('e', a=deepcopy(x))\n",
    "aliased": "import copy as c\nimport copy\ndef f(x):\n    structlogger.debug('e', a=copy.deepcopy(x))\n",
    "unused": "import copy\n",
}
out["checks"] = {name: dlc.copies_only_for_debug_logs(source) for name, source in checks.items()}

value = {"states": [{"prev_action": {"action_name": "action_listen"}}]}
stand_in = rasa.core.processor.copy
levels = {}
for level in (logging.INFO, logging.WARNING, logging.DEBUG, logging.INFO):
    configure_structlog(level)
    copied = stand_in.deepcopy(value)
    levels.setdefault(logging.getLevelName(level), []).append(
        {"dropped": dlc.debug_dropped(), "same_object": copied is value, "equal": copied == value})
out["levels"] = levels

# MessageProcessor._log_slots: count the debug messages it sends at each level
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
tracker = DialogueStateTracker.from_events("s", [], Domain.load("domain.yml").slots)
tracker.slots["order_id"].value = "BC-100001"
sent = []
class Recorder:
    def debug(self, event, **kw):
        sent.append(event)
original_logger = rasa.core.processor.structlogger
rasa.core.processor.structlogger = Recorder()
counts = {}
for level in (logging.INFO, logging.DEBUG):
    configure_structlog(level)
    before = len(sent)
    MessageProcessor._log_slots(tracker)
    counts[logging.getLevelName(level)] = len(sent) - before
rasa.core.processor.structlogger = original_logger
configure_structlog(logging.INFO)
out["log_slots"] = counts
out["shallow_copy_works"] = stand_in.copy([1, 2]) == [1, 2] and stand_in.copy is copy.copy
print(json.dumps(out))
'''


def test_stand_in_only_where_copy_serves_debug_logs_and_only_while_debug_is_off() -> None:
    out = run_in_rasa_env(SCRIPT, timeout=300)
    assert sorted(out["installed"]) == sorted(["rasa.core.processor", "rasa.core.policies.memoization",
                                               "rasa.core.policies.rule_policy", "rasa.core.actions.forms",
                                               "MessageProcessor._log_slots"])
    # the slot summary: skipped while debug is dropped, logged (through Rasa's function) when on
    assert out["log_slots"] == {"INFO": 0, "DEBUG": 1}
    assert out["action_module_untouched"]  # action.py deep-copies events it changes: not a log argument
    assert out["checks"] == {"log_only": True, "real_copy": False, "shallow": False, "info_log": False,
                             "positional": False, "passed_on": False, "from_import": False, "aliased": False,
                             "unused": False}
    assert out["levels"]["INFO"] == [{"dropped": True, "same_object": True, "equal": True}] * 2
    assert out["levels"]["WARNING"] == [{"dropped": True, "same_object": True, "equal": True}]
    # debug on: the log gets its own copy, as in Rasa
    assert out["levels"]["DEBUG"] == [{"dropped": False, "same_object": False, "equal": True}]
    assert out["shallow_copy_works"]
