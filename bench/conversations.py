"""The conversations the benchmark sends: customer turns taken from each bot's own test stories.

A *turn* is one customer message plus what kind of turn it is, read from the story step after it:

- ``knowledge``: the story's next action is ``action_answer_from_knowledge`` (retrieval + answer);
- ``task``: a form, a custom action or a handoff (action server, backend);
- ``chitchat``: only ``utter_*`` responses (no action server call besides slot validation).

Load conversations are stories concatenated until they have about ten customer turns, each
starting at a different story, so the load is a mix of ordinary conversations rather than one
repeated message. The long conversation repeats a fixed cycle whose length divides 45, so turn 5
and turn 50 are the same message in the same dialogue state and their latencies compare the cost
of conversation length alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml

ENTITY_MARKUP = re.compile(r"\[([^\[\]]+)\](?:\([^()]*\)|\{[^{}]*\})")  # linear: no '[' / '(' / '{' inside


@dataclass(frozen=True)
class Turn:
    text: str
    kind: str  # knowledge | task | chitchat
    metadata: Optional[Dict[str, Any]] = None


def plain_text(annotated: str) -> str:
    """``where is [BC-100002](order_id)`` -> ``where is BC-100002``."""
    return ENTITY_MARKUP.sub(lambda m: m.group(1), annotated).strip()


def _kind(next_action: Optional[str]) -> str:
    if next_action == "action_answer_from_knowledge":
        return "knowledge"
    if next_action is None or next_action.startswith("utter_"):
        return "chitchat"
    return "task"


def story_turns(path: Path) -> List[List[Turn]]:
    """One list of customer turns per story (or test story) in ``path``."""
    data = yaml.safe_load(path.read_text()) or {}
    stories: List[List[Turn]] = []
    for story in data.get("stories") or []:
        steps = story.get("steps") or []
        turns: List[Turn] = []
        for index, step in enumerate(steps):
            if "user" not in step:
                continue
            following = next((s.get("action") for s in steps[index + 1:] if "action" in s or "user" in s), None)
            text = plain_text(str(step["user"]))
            if text:
                turns.append(Turn(text, _kind(following)))
        if turns:
            stories.append(turns)
    return stories


def load_stories(paths: Iterable[Path]) -> List[List[Turn]]:
    stories: List[List[Turn]] = []
    for path in sorted(paths):
        stories.extend(story_turns(path))
    if not stories:
        raise ValueError(f"no test stories with customer text in {list(paths)}")
    return stories


def load_conversations(stories: List[List[Turn]], count: int, min_turns: int = 10) -> List[List[Turn]]:
    """``count`` conversations of about ``min_turns`` turns, each starting at another story."""
    conversations: List[List[Turn]] = []
    for start in range(count):
        turns: List[Turn] = []
        index = (start * 3) % len(stories)  # a stride, so neighbouring conversations differ
        while len(turns) < min_turns:
            turns.extend(stories[index % len(stories)])
            index += 1
        conversations.append(turns)
    return conversations


def cycle(turns: List[Turn], length: int) -> List[Turn]:
    """A long conversation: ``turns`` repeated until it has ``length`` turns."""
    return [turns[i % len(turns)] for i in range(length)]


# This project's long conversation: a signed-in customer (so the cycle's dialogue state repeats
# exactly: no identity check the first time only) working through flows, asking policy questions,
# and finally asking for a person, who hands the conversation back (the benchmark resolves the case
# the way an agent's "Resolve" does, see loadgen.AGENT_HAND_BACK). Nine turns, so turns 5, 14, ...,
# 50 are the same step; and the escalation rule for long threads (14 customer turns since the last
# hand-back, config/escalation_rules.yml) never fires, as it would not for a customer who was
# handed to a person and back every nine messages.
PROJECT_CUSTOMER = {"customer_id": "C0001"}
PROJECT_LONG_CYCLE: List[Turn] = [
    Turn("hi there", "chitchat", PROJECT_CUSTOMER),
    Turn("where is my order BC-100002", "task", PROJECT_CUSTOMER),
    Turn("do you deliver on weekends?", "knowledge", PROJECT_CUSTOMER),
    Turn("can I get an invoice for order BC-100003", "task", PROJECT_CUSTOMER),
    Turn("what is your return policy?", "knowledge", PROJECT_CUSTOMER),
    Turn("is your website down right now?", "task", PROJECT_CUSTOMER),
    Turn("what is the status of order BC-100004", "task", PROJECT_CUSTOMER),
    Turn("thanks, that's all", "chitchat", PROJECT_CUSTOMER),
    Turn("can I talk to a human please", "task", PROJECT_CUSTOMER),
]
CYCLE_LENGTH = 9


def stock_long_cycle(stories: List[List[Turn]]) -> List[Turn]:
    """Stock Rasa's long conversation: the first nine customer turns of its test stories."""
    flat = [turn for story in stories for turn in story]
    return [flat[i % len(flat)] for i in range(CYCLE_LENGTH)]
