"""What both Twilio connectors share: settings from the environment and the webhook signature check.

Twilio signs every webhook request: ``X-Twilio-Signature`` is an HMAC-SHA1 (keyed with the
account's auth token) of the full URL Twilio requested plus the sorted POST parameters. To check
it we must rebuild that URL exactly as Twilio saw it, which behind a TLS-terminating proxy is not
the URL the server sees:

* a configured public URL (``public_url`` in credentials.yml or ``TWILIO_PUBLIC_URL``) wins: it is
  the public base address of the Rasa server, e.g. ``https://support.example.com``;
* otherwise the scheme comes from ``X-Forwarded-Proto`` and the host from ``X-Forwarded-Host``
  (each falling back to what the server itself saw).

Trusting the forwarded headers is safe here: they only choose which URL the signature is checked
against, and nobody without the auth token can produce a valid signature for any URL.

No Rasa or Sanic import here, so it runs (and is tested) in either environment.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
DEFAULT_API_URL = "https://api.twilio.com"


def _setting(credentials: Mapping[str, Any], key: str, env: str, default: Optional[str] = None) -> Optional[str]:
    """credentials.yml value if given, else the environment variable, else the default."""
    value = credentials.get(key)
    if value in (None, ""):
        value = os.environ.get(env) or default
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class TwilioSettings:
    """Account and addresses, from credentials.yml keys or the TWILIO_* environment variables."""

    account_sid: Optional[str]
    auth_token: Optional[str]
    twilio_number: Optional[str]
    api_url: str
    public_url: Optional[str]

    @classmethod
    def from_credentials(cls, credentials: Optional[Mapping[str, Any]]) -> "TwilioSettings":
        creds = credentials or {}
        return cls(
            account_sid=_setting(creds, "account_sid", "TWILIO_ACCOUNT_SID"),
            auth_token=_setting(creds, "auth_token", "TWILIO_AUTH_TOKEN"),
            twilio_number=_setting(creds, "twilio_number", "TWILIO_NUMBER"),
            api_url=(_setting(creds, "api_url", "TWILIO_API_URL", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/"),
            public_url=(_setting(creds, "public_url", "TWILIO_PUBLIC_URL") or "").rstrip("/") or None,
        )


def _first(value: Optional[str]) -> Optional[str]:
    """The first entry of a possibly comma-separated forwarded header (the client-facing hop)."""
    if not value:
        return None
    return value.split(",")[0].strip() or None


def public_request_url(
    *,
    scheme: str,
    host: str,
    path: str,
    query_string: str = "",
    headers: Optional[Mapping[str, str]] = None,
    public_url: Optional[str] = None,
) -> str:
    """The URL Twilio requested, as it must be signed (see the module docstring)."""
    query = f"?{query_string}" if query_string else ""
    if public_url:
        return f"{public_url.rstrip('/')}{path}{query}"
    headers = headers or {}
    forwarded_proto = _first(headers.get("X-Forwarded-Proto") or headers.get("x-forwarded-proto"))
    forwarded_host = _first(headers.get("X-Forwarded-Host") or headers.get("x-forwarded-host"))
    return f"{forwarded_proto or scheme}://{forwarded_host or host}{path}{query}"


def request_url_of(request: Any, public_url: Optional[str] = None) -> str:
    """``public_request_url`` for a Sanic request (duck-typed, so any similar object works)."""
    host = request.headers.get("host") or request.host
    return public_request_url(
        scheme=request.scheme,
        host=host,
        path=request.path,
        query_string=request.query_string or "",
        headers=request.headers,
        public_url=public_url,
    )


def signature_is_valid(auth_token: Optional[str], url: str, params: Any, signature: Optional[str]) -> bool:
    """True only for a request Twilio signed with this auth token. No token means nothing is valid."""
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, params or {}, signature)


class FormParams(dict):
    """POST parameters as Twilio signed them: every value, blank ones included ("Body=" of a
    picture message). Sanic's ``request.form`` drops blank values, which would break the check."""

    def getlist(self, name: str) -> List[str]:
        return list(self.get(name, []))


def signed_params(request: Any) -> FormParams:
    raw = request.body.decode("utf-8", errors="replace") if getattr(request, "body", None) else ""
    if raw:
        return FormParams(parse_qs(raw, keep_blank_values=True))
    form = getattr(request, "form", None) or {}
    return FormParams({k: (form.getlist(k) if hasattr(form, "getlist") else [form[k]]) for k in form})


def verify_request(request: Any, settings: TwilioSettings) -> bool:
    """Check a webhook request's X-Twilio-Signature against the public URL and its form body."""
    url = request_url_of(request, settings.public_url)
    valid = signature_is_valid(settings.auth_token, url, signed_params(request), request.headers.get(SIGNATURE_HEADER))
    if not valid:
        reason = "no TWILIO_AUTH_TOKEN configured" if not settings.auth_token else (
            "no signature" if not request.headers.get(SIGNATURE_HEADER) else "signature mismatch")
        logger.warning("rejected a Twilio webhook for %s: %s", url, reason)
    return valid


def warn_if_unconfigured(channel: str, settings: TwilioSettings) -> None:
    if not settings.auth_token:
        logger.warning(
            "%s: TWILIO_AUTH_TOKEN is not set, so every webhook request is refused with 403", channel
        )
