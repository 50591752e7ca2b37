"""X-Twilio-Signature checking: the URL Twilio signed, rebuilt behind proxies, and the HMAC."""
from __future__ import annotations

import urllib.parse
from types import SimpleNamespace

from twilio.request_validator import RequestValidator

from channels.twilio_common import (
    TwilioSettings,
    public_request_url,
    request_url_of,
    signature_is_valid,
    verify_request,
)

TOKEN = "test-auth-token"
PARAMS = {"From": "+15555550101", "To": "+15550000000", "Body": "where is my order BC-100002"}


def sign(url: str, params=PARAMS, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def fake_request(headers, path="/webhooks/twilio_sms/webhook", query="", scheme="http", host="127.0.0.1:5005", form=PARAMS):
    return SimpleNamespace(headers=headers, path=path, query_string=query, scheme=scheme, host=host, form=form)


def settings(public_url=None, token=TOKEN) -> TwilioSettings:
    return TwilioSettings(account_sid="AC1", auth_token=token, twilio_number="+15550000000",
                          api_url="http://127.0.0.1:1", public_url=public_url)


def test_url_is_what_the_server_saw_without_a_proxy():
    url = public_request_url(scheme="http", host="127.0.0.1:5005", path="/webhooks/twilio_voice/gather",
                             query_string="silence=0&nomatch=1")
    assert url == "http://127.0.0.1:5005/webhooks/twilio_voice/gather?silence=0&nomatch=1"


def test_forwarded_proto_and_host_are_honoured():
    url = public_request_url(scheme="http", host="10.0.0.5:5005", path="/webhooks/twilio_sms/webhook",
                             headers={"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "support.example.com"})
    assert url == "https://support.example.com/webhooks/twilio_sms/webhook"


def test_configured_public_url_wins_over_headers():
    url = public_request_url(scheme="http", host="127.0.0.1:5005", path="/webhooks/twilio_sms/webhook",
                             headers={"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"},
                             public_url="https://example.com/rasa/")
    assert url == "https://example.com/rasa/webhooks/twilio_sms/webhook"


def test_signature_round_trip_and_tampering():
    url = "https://support.example.com/webhooks/twilio_sms/webhook"
    signature = sign(url)
    assert signature_is_valid(TOKEN, url, PARAMS, signature)
    assert not signature_is_valid(TOKEN, url, {**PARAMS, "Body": "something else"}, signature)
    assert not signature_is_valid(TOKEN, url.replace("https", "http"), PARAMS, signature)
    assert not signature_is_valid("another-token", url, PARAMS, signature)
    assert not signature_is_valid(TOKEN, url, PARAMS, None)
    assert not signature_is_valid(None, url, PARAMS, signature), "no configured token: nothing is valid"


def test_verify_request_behind_a_tls_proxy():
    public = "https://support.example.com/webhooks/twilio_sms/webhook"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "support.example.com", "host": "127.0.0.1:5005",
               "X-Twilio-Signature": sign(public)}
    assert verify_request(fake_request(headers), settings())
    # The same signature does not fit the URL the server sees directly.
    direct = {"host": "127.0.0.1:5005", "X-Twilio-Signature": sign(public)}
    assert not verify_request(fake_request(direct), settings())
    # ...unless the public URL is configured.
    assert verify_request(fake_request(direct), settings(public_url="https://support.example.com"))


def test_request_url_uses_host_header_and_query():
    request = fake_request({"host": "rasa.internal:5005"}, path="/webhooks/twilio_voice/gather", query="silence=1")
    assert request_url_of(request) == "http://rasa.internal:5005/webhooks/twilio_voice/gather?silence=1"


def test_settings_fall_back_to_environment(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACenv")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "envtoken")
    monkeypatch.setenv("TWILIO_NUMBER", "+15550000001")
    monkeypatch.setenv("TWILIO_API_URL", "http://127.0.0.1:9999/")
    monkeypatch.delenv("TWILIO_PUBLIC_URL", raising=False)
    loaded = TwilioSettings.from_credentials({"twilio_number": "+15550000002"})
    assert (loaded.account_sid, loaded.auth_token, loaded.twilio_number) == ("ACenv", "envtoken", "+15550000002")
    assert loaded.api_url == "http://127.0.0.1:9999" and loaded.public_url is None
    monkeypatch.delenv("TWILIO_API_URL")
    assert TwilioSettings.from_credentials(None).api_url == "https://api.twilio.com"


def test_blank_parameters_count_as_twilio_signed_them():
    """A picture message has "Body=" — a blank value that is part of the signed string."""
    url = "http://127.0.0.1:5005/webhooks/twilio_sms/webhook"
    params = {"From": "+15555550101", "Body": "", "NumMedia": "1"}
    body = urllib.parse.urlencode(params).encode()
    request = SimpleNamespace(headers={"host": "127.0.0.1:5005", "X-Twilio-Signature": sign(url, params)},
                              path="/webhooks/twilio_sms/webhook", query_string="", scheme="http", host="127.0.0.1:5005",
                              body=body, form={"From": ["+15555550101"], "NumMedia": ["1"]})
    assert verify_request(request, settings())
