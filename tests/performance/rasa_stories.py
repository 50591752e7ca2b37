"""What the Rasa-environment test scripts share (imported inside them, in .venv-rasa): the
project's conversations as event lists, where to cut them, and a local HTTP server.

Not a test module: it imports Rasa, which only the Rasa environment has."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, List, Tuple


def project_story_events(domain: Any) -> List[List[Any]]:
    """The events of every story, rule and test story of the project, plus one long conversation
    (the first 40 of them one after the other)."""
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.loading import load_data_from_resource
    from rasa.shared.core.training_data.structures import StoryGraph

    steps = []
    for path in ["data/stories", "data/rules", "tests/stories"]:
        steps += load_data_from_resource(path, domain)
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0).generate()
    story_events = [list(t.events) for t in trackers]
    story_events.append([e for events in story_events[:40] for e in events])
    return story_events


def action_ends(events: List[Any]) -> List[int]:
    """The lengths at which ``events`` ends right after an action (each prediction point)."""
    from rasa.shared.core.events import ActionExecuted

    return [i + 1 for i, e in enumerate(events) if isinstance(e, ActionExecuted)]


async def serve(route: str, handler: Callable[[Any], Awaitable[Any]]) -> Tuple[Any, int]:
    """An aiohttp server on a free loopback port answering POST ``route``: (runner, port)."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post(route, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]
