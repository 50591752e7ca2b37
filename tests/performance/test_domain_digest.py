"""rasa_addons.domain_digest: the domain goes to the action server once, then its digest; a 449
brings it again; an endpoint without ``domain_digest: true`` gets Rasa's bodies unchanged.

In the Rasa environment, against a local server that keeps the domain the way rasa-sdk 3.21 does
(``ActionExecutor.update_and_return_domain``); and against the project's real action server, that
it runs actions from the digest alone and answers 449 for a digest it does not hold."""
from __future__ import annotations

import json

from tests.performance.rasa_script import run_in_rasa_env
from tests.support.http import post_json, rasa_headers

SCRIPT = r'''
import asyncio, json
from aiohttp import web
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import domain_digest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered, ActionExecuted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from tests.performance.rasa_stories import serve

domain = Domain.load("domain.yml")
nlg = TemplatedNaturalLanguageGenerator(domain.responses)
tracker = DialogueStateTracker.from_events("s1", [ActionExecuted("action_listen"), UserUttered("where is my order")],
                                           domain.slots)

class SdkLikeServer:
    """What rasa-sdk 3.21 does with a call's domain and digest."""
    def __init__(self):
        self.domain, self.digest, self.bodies, self.statuses = None, None, [], []
    async def handler(self, request):
        body = await request.json()
        self.bodies.append(body)
        if "domain" not in body and not (self.digest and self.digest == body.get("domain_digest")):
            self.statuses.append(449)
            return web.json_response({"error": "missing domain", "action_name": body["next_action"]}, status=449)
        if "domain" in body:
            self.domain, self.digest = body["domain"], body.get("domain_digest")
        self.statuses.append(200)
        # the action answers from the domain it holds: the number of its slots
        return web.json_response({"events": [{"event": "slot", "name": "order_id", "value": str(len(self.domain["slots"]))}],
                                  "responses": []})

async def main():
    out = {}
    server = SdkLikeServer()
    runner, port = await serve("/webhook", server.handler)
    url = f"http://127.0.0.1:{port}/webhook"
    on = RemoteAction("action_order_status", EndpointConfig(url, domain_digest=True))
    off = RemoteAction("action_order_status", EndpointConfig(url))
    results = []
    for _ in range(3):
        results.append(await on.run(CollectingOutputChannel(), nlg, tracker, domain))
    out["first_three"] = [("domain" in b, b.get("domain_digest") == domain_digest.digest_of(domain.as_dict())) for b in server.bodies]
    out["statuses"] = list(server.statuses)
    out["values"] = [[e.value for e in events if isinstance(e, SlotSet)] for events in results]
    # the rest of the body is Rasa's: the same as a call without the protocol, less the digest
    await off.run(CollectingOutputChannel(), nlg, tracker, domain)
    plain, with_domain, with_digest = server.bodies[3], server.bodies[0], server.bodies[1]
    out["plain_has_no_digest"] = "domain_digest" not in plain
    out["same_rest"] = ({k: v for k, v in with_domain.items() if k != "domain_digest"} == plain
                        and {k: v for k, v in with_digest.items() if k != "domain_digest"} == {k: v for k, v in plain.items() if k != "domain"})
    # the server forgets (a restart): 449, then the same call again with the domain, once
    server.domain = server.digest = None
    count = len(server.bodies)
    events = await on.run(CollectingOutputChannel(), nlg, tracker, domain)
    out["after_restart"] = {"statuses": server.statuses[count:], "domain": ["domain" in b for b in server.bodies[count:]],
                            "values": [e.value for e in events if isinstance(e, SlotSet)]}
    # a server that never keeps a domain: the repeated call carries it, and a second 449 is an error
    async def forgetful(request):
        body = await request.json()
        return web.json_response({"error": "missing domain", "action_name": body["next_action"]}, status=449)
    runner2, port2 = await serve("/webhook", forgetful)
    try:
        await RemoteAction("action_order_status", EndpointConfig(f"http://127.0.0.1:{port2}/webhook", domain_digest=True)).run(
            CollectingOutputChannel(), nlg, tracker, domain)
        out["forgetful"] = "no error"
    except RasaException as error:
        out["forgetful"] = type(error).__name__
    await runner.cleanup()
    await runner2.cleanup()
    return out

print(json.dumps(asyncio.run(main())))
'''


def test_domain_once_then_digest_and_again_after_449() -> None:
    out = run_in_rasa_env(SCRIPT, timeout=300)
    assert out["first_three"] == [[True, True], [False, True], [False, True]]
    assert out["statuses"][:3] == [200, 200, 200]
    assert len({tuple(v) for v in out["values"]}) == 1 and out["values"][0][0].isdigit()
    n_slots = out["values"][0][0]
    assert out["plain_has_no_digest"] and out["same_rest"]
    assert out["after_restart"] == {"statuses": [449, 200], "domain": [False, True], "values": [n_slots]}
    assert out["forgetful"] == "RasaException"


def test_real_action_server_keeps_the_domain_for_its_digest(stack) -> None:
    """rasa-sdk 3.21 as the project runs it: runs an action from the digest alone, and answers 449
    (with the action's name) for a digest it does not hold."""
    import yaml

    from tests.conftest import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    tracker = {"sender_id": "digest-test", "slots": {}, "latest_message": {"text": "hi", "intent": {"name": "greet"}},
               "events": [], "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "action_listen"}
    base = {"next_action": "action_reset_flow", "sender_id": "digest-test", "tracker": tracker, "version": "3.6.21"}
    url = stack.config.action_url
    status, _ = post_json(url, json.dumps({**base, "domain": domain, "domain_digest": "test-digest-1"}).encode(), headers=rasa_headers(stack))
    assert status == 200
    status, answer = post_json(url, json.dumps({**base, "domain_digest": "test-digest-1"}).encode(), headers=rasa_headers(stack))
    assert status == 200 and isinstance(answer.get("events"), list)
    status, answer = post_json(url, json.dumps({**base, "domain_digest": "some-other-digest"}).encode(), headers=rasa_headers(stack))
    assert status == 449 and answer["action_name"] == "action_reset_flow"
