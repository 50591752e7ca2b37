"""Identity tokens as the store site would sign them, for tests.

HS256 with PyJWT (in the app environment); RS256 signed with the openssl command line (the app
environment has no ``cryptography``), which is exactly what a site using a private key does.
"""
from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import jwt

AUDIENCE = "brightcart-assistant"


def claims(customer_id: str, *, audience: str = AUDIENCE, ttl: int = 600, now: Optional[float] = None, **extra: Any) -> Dict[str, Any]:
    issued = int(now if now is not None else time.time())
    return {"sub": customer_id, "aud": audience, "iat": issued, "exp": issued + ttl, **extra}


def hs256_token(secret: str, customer_id: str, **kwargs: Any) -> str:
    return jwt.encode(claims(customer_id, **kwargs), secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_key_pair(folder: Path) -> Tuple[Path, Path]:
    private, public = folder / "identity_private.pem", folder / "identity_public.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)], check=True, capture_output=True)
    return private, public


def rs256_token(private_key: Path, payload: Dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signing_input = f"{header}.{body}".encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(private_key)], input=signing_input,
                               check=True, capture_output=True).stdout
    return f"{header}.{body}.{_b64(signature)}"


def unsigned_token(payload: Dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def hs256_raw(key: bytes, payload: Dict[str, Any]) -> str:
    """HS256 by hand, for keys PyJWT rightly refuses to use (an RSA public key: the classic
    algorithm-confusion forgery a verifier must reject)."""
    import hashlib
    import hmac

    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"
