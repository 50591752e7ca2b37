"""rasa_addons.action_call: the action-server call body, reusing the events the previous call sent.

Runs in Rasa's environment: for every story, rule and test story of the project cut after each
action (and one long conversation), the dict ``_action_call_format`` returns equals Rasa's and the
body written from it is the same JSON value as Rasa's; asked again, no event is turned into a dict
again, and nothing is stored on the events; an event whose metadata or timestamp is set anew is
written again; a body whose events were replaced is
written from its dict; and a real ``RemoteAction.run`` against a local server sends Rasa's JSON.
"""
from __future__ import annotations

from tests.performance.rasa_script import run_in_rasa_env

SCRIPT = r'''
import asyncio, json
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import action_call, rasa_runtime
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered, BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from tests.performance.rasa_stories import action_ends, project_story_events, serve

domain = Domain.load("domain.yml")
story_events = project_story_events(domain)
long_conversation = story_events.pop()
long_conversation.append(UserUttered("caf\u00e9 \u2713 / \"quoted\" </script>", {"name": "inform", "confidence": 0.5},
                                     [{"entity": "order_id", "value": "BC-1", "start": 0, "end": 4}],
                                     parse_data={"intent": {"name": "inform", "confidence": 0.5}, "big": 2 ** 70},
                                     metadata={"k": [1.5, None, True]}))
long_conversation.append(BotUttered("hi", {"buttons": [{"title": "a", "payload": "/b"}]}, metadata={"x": 1e-300}))
story_events.append(long_conversation)

action = RemoteAction("action_check_order_status", EndpointConfig("http://127.0.0.1:9/webhook"))
original = action_call._rasa_action_call_format
as_dict_calls = []
real_as_dict = {}
for cls in {type(e) for events in story_events for e in events}:
    real_as_dict[cls] = cls.as_dict
    def counting(self, _real=cls.as_dict):
        as_dict_calls.append(1)
        return _real(self)
    cls.as_dict = counting

cuts = 0
for events in story_events:
    for end in action_ends(events) + [len(events)]:
        tracker = DialogueStateTracker.from_events("s", events[:end], domain.slots)
        expected = original(action, tracker, domain)
        mine = action._action_call_format(tracker, domain)
        assert type(mine) is action_call.ActionCallBody and mine == expected, end
        assert json.loads(rasa_runtime.json_body(mine)) == json.loads(json.dumps(expected)), end
        assert action_call.spliced_body(mine, rasa_runtime.plain_json_body) is not None  # the fast path
        del as_dict_calls[:]
        again = action._action_call_format(tracker, domain)
        assert not as_dict_calls, "an unchanged event was turned into a dict again"
        assert not [key for e in tracker.events for key in vars(e) if key.startswith("_rasa_addons")]
        assert rasa_runtime.json_body(again) == rasa_runtime.json_body(mine)
        cuts += 1

# an attribute set anew is written again
tracker = DialogueStateTracker.from_events("s", long_conversation, domain.slots)
first = json.loads(rasa_runtime.json_body(action._action_call_format(tracker, domain)))
tracker.events[-2].metadata = {"changed": True}
tracker.events[-1].timestamp = 12.5
second = json.loads(rasa_runtime.json_body(action._action_call_format(tracker, domain)))
assert second["tracker"]["events"][-2]["metadata"] == {"changed": True}
assert second["tracker"]["events"][-1]["timestamp"] == 12.5
assert second == json.loads(json.dumps(original(action, tracker, domain)))
assert first != second

# a body whose events were replaced after it was prepared is written from its dict
body = action._action_call_format(tracker, domain)
body["tracker"]["events"] = body["tracker"]["events"][:3]
assert action_call.spliced_body(body, rasa_runtime.plain_json_body) is None
assert json.loads(rasa_runtime.json_body(body))["tracker"]["events"] == json.loads(json.dumps(body["tracker"]["events"]))
# what json.dumps refuses is still refused (a slot value that is no JSON)
tracker.slots["order_id"].value = object()
try:
    rasa_runtime.json_body(action._action_call_format(tracker, domain))
    raise SystemExit("an object was written")
except TypeError:
    pass
tracker.slots["order_id"].value = None

# a real call: the action server gets Rasa's JSON
from aiohttp import web
received = []
async def handler(request):
    received.append(await request.json())
    return web.json_response({"events": [], "responses": []})
async def call():
    runner, port = await serve("/webhook", handler)
    remote = RemoteAction("action_check_order_status", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    for _ in range(2):
        await remote.run(CollectingOutputChannel(), nlg, tracker, domain)
    await runner.cleanup()
asyncio.run(call())
expected = json.loads(json.dumps(original(action, tracker, domain)))
assert len(received) == 2 and received[0] == received[1] == expected
print(json.dumps({"cuts": cuts, "events": len(tracker.events)}))
'''


def test_action_call_bodies_are_rasas() -> None:
    result = run_in_rasa_env(SCRIPT, timeout=600)
    assert result["cuts"] >= 500 and result["events"] >= 300
