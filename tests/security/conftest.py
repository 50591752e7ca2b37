"""The injection tests reuse the handoff fixtures (Slack emulator, the stack wired to it, the
signed agent, the REST customer) so that changes to how the stack is reached are made in one
place: tests/handoff/conftest.py and tests/conftest.py."""
from tests.handoff.conftest import agent, customer, slack, slack_env, slack_stack, stack_slack  # noqa: F401
