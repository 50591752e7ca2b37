"""The Slack Web API as the handoff uses it: settings, one client, and what a failure means.

Settings (environment): ``SLACK_API_URL`` (default https://slack.com/api/; tests point it at a
local emulator), ``SLACK_BOT_TOKEN``, ``SLACK_HANDOFF_CHANNEL`` (channel ID or name),
``SLACK_SIGNING_SECRET`` (events endpoint), ``SLACK_TIMEOUT`` (seconds, default 5).

Bot token scopes: ``chat:write`` (post, update), ``channels:history`` (or ``groups:history``
for a private channel: reading back a message whose delivery was uncertain) and the
``message.channels`` (``message.groups``) event subscription for agent replies.

The client is built without slack-sdk's automatic retries: a retried ``chat.postMessage`` whose
first attempt reached Slack posts twice. The outbox (actions/outbox.py) retries instead, and
knows from :func:`classify` whether an attempt may have reached Slack.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Optional

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"

# What a failed call means for the message it carried.
NOT_SENT = "not_sent"  # certainly not posted (connection refused, rate limited, auth/config): retry as is
UNCERTAIN = "uncertain"  # may have been posted (timeout, dropped connection, 5xx): look before retrying
REJECTED = "rejected"  # Slack refused this message itself (bad blocks, too long): retrying will not help

#: Slack error codes that are about the message, not about Slack or our configuration
MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
        "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large", "invalid_attachments",
        "message_not_found", "cant_update_message", "edit_window_closed", "invalid_arguments",
        "thread_not_found",
    }
)
#: configuration problems: nothing is posted until someone fixes them; items stay queued
CONFIG_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired", "no_permission",
     "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)


@dataclass(frozen=True)
class SlackSettings:
    api_url: str
    bot_token: str
    channel: str
    signing_secret: str
    timeout: float

    @classmethod
    def from_env(cls) -> "SlackSettings":
        api_url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
        return cls(
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            bot_token=os.environ.get("SLACK_BOT_TOKEN", "").strip(),
            channel=os.environ.get("SLACK_HANDOFF_CHANNEL", "").strip() or "support-handoff",
            signing_secret=os.environ.get("SLACK_SIGNING_SECRET", "").strip(),
            timeout=float(os.environ.get("SLACK_TIMEOUT", "").strip() or 5),
        )

    @property
    def configured(self) -> bool:
        return bool(self.bot_token)


_settings: Optional[SlackSettings] = None
_client: Optional[AsyncWebClient] = None
_client_loop: Optional[asyncio.AbstractEventLoop] = None


def settings() -> SlackSettings:
    global _settings
    if _settings is None:
        _settings = SlackSettings.from_env()
    return _settings


def get_slack() -> AsyncWebClient:
    """The process-wide Slack client (one per event loop: aiohttp sessions belong to a loop)."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop:
        cfg = settings()
        _client = AsyncWebClient(
            token=cfg.bot_token or None,
            base_url=cfg.api_url,
            timeout=int(max(1, round(cfg.timeout))),
            retry_handlers=[],
        )
        _client_loop = loop
    return _client


def reset() -> None:
    """Forget settings and client (tests change the environment)."""
    global _settings, _client, _client_loop
    _settings, _client, _client_loop = None, None, None


def error_code(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"http_{getattr(error.response, 'status_code', '?')}"
    return type(error).__name__


def classify(error: BaseException) -> str:
    """NOT_SENT, UNCERTAIN or REJECTED for an exception raised by a Slack call."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200) or 200
        code = error_code(error)
        if code in MESSAGE_ERRORS:
            return REJECTED
        if code == "ratelimited" or status == 429 or code in CONFIG_ERRORS:
            return NOT_SENT
        if status >= 500 or code.startswith("http_") or code in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
            return UNCERTAIN
        return NOT_SENT
    if isinstance(error, aiohttp.ClientConnectorError):
        return NOT_SENT  # the TCP connection never opened
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                          aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        return UNCERTAIN
    if isinstance(error, aiohttp.ClientError):
        return UNCERTAIN
    return UNCERTAIN


def retry_after(error: BaseException) -> Optional[float]:
    if isinstance(error, SlackApiError):
        headers = getattr(error.response, "headers", {}) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None
    return None
