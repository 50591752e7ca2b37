"""rasa_addons.rasa_runtime: the cheaper equivalents of three Rasa internals compute what Rasa does.

Runs in Rasa's environment against the trained model: every event name resolves to the same class
(and unknown names fail the same way), every slot of the domain copies to an equal, independent
slot, and the prediction graph gives the same parses and the same next-action predictions with
and without dask, while the fast path really runs without dask.
"""
from __future__ import annotations

from tests.performance.rasa_script import ROOT, run_in_rasa_env

SCRIPT = r'''
import asyncio, copy, json, sys
from rasa.shared.core.events import Event, UserUttered, ActionExecuted, SlotSet
from rasa.shared.utils.common import all_subclasses
from rasa.shared.core.slots import Slot
original_resolve = Event.resolve_by_type
import rasa_addons  # installs the replacements
from rasa_addons import rasa_runtime
assert Event.resolve_by_type is not original_resolve
out = {}

# event names: twice each, so the remembered answer is checked too
names = sorted({cls.type_name for cls in all_subclasses(Event)})
out["names"] = len(names)
for _ in range(2):
    for name in names:
        assert Event.resolve_by_type(name) is original_resolve(name), name
assert Event.resolve_by_type("topic") is None and original_resolve("topic") is None
assert Event.resolve_by_type("no_such", default=SlotSet) is SlotSet
for resolve in (original_resolve, Event.resolve_by_type):
    try:
        resolve("no_such")
        raise SystemExit("unknown event name accepted")
    except ValueError as error:
        assert "no_such" in str(error)

# slots: the project's domain, every slot type it uses
from rasa.shared.core.domain import Domain
domain = Domain.load("domain.yml")
out["slots"] = len(domain.slots)
for slot in domain.slots:
    duplicate = copy.copy(slot)
    reference = copy._reconstruct(slot, None, *slot.__reduce_ex__(4))
    assert type(duplicate) is type(slot) is type(reference) and duplicate is not slot
    assert duplicate.__dict__ == reference.__dict__ == slot.__dict__, slot.name
    duplicate.value = "changed"
    assert slot.value != "changed", slot.name

# the prediction graph with and without dask
from rasa.core.agent import load_agent
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.trackers import DialogueStateTracker
import dask
agent = asyncio.run(load_agent(model_path=sys.argv[1]))
texts = ["hi", "where is my order BC-100002", "I want to cancel my membership", "you are useless, get me a human",
         "how much does premium cost?", "asdfgh", "my card was charged twice", "delete my account and all my data",
         "thanks, bye", "can I change the shipping address on BC-100001? I moved"]

def run_all():
    parses, predictions = [], []
    for text in texts:
        parse = asyncio.run(agent.parse_message(text))
        parses.append(parse)
        tracker = DialogueStateTracker.from_events("t", [ActionExecuted("action_listen"),
                                                         UserUttered(text, parse_data=parse)], domain.slots)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        predictions.append([prediction.policy_name, [round(p, 12) for p in prediction.probabilities],
                            prediction.is_no_user_prediction])
    return json.loads(json.dumps([parses, predictions], default=str))

fast = DaskGraphRunner.run
DaskGraphRunner.run = rasa_runtime._dask_run
with_dask = run_all()
DaskGraphRunner.run = fast
real_get = dask.get
def no_dask(*args, **kwargs):
    raise AssertionError("dask.get was called on the fast path")
dask.get = no_dask
without = run_all()
dask.get = real_get
assert with_dask == without, "graph results differ"
out["parses"] = len(without[0])
out["intents"] = sorted({p["intent"]["name"] for p in without[0]})
print(json.dumps(out))
'''


def test_rasa_runtime_replacements_compute_what_rasa_does() -> None:
    model = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[-1]
    result = run_in_rasa_env(SCRIPT, str(model), timeout=600)
    assert result["names"] >= 20 and result["slots"] >= 20 and result["parses"] == 10
    assert len(result["intents"]) >= 6, result["intents"]
