"""Account security: password reset, unlocking, changing the email address."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import repo, validation
from ..dates import iso_datetime
from ..errors import bad_request, conflict
from ..ids import token, verification_code
from ..web import body, clock, db, reply

bp = Blueprint("accounts", url_prefix="/api/customers")

RESET_LINK_BASE = "https://www.brightcart.example/account/reset/"
RESET_LINK_MINUTES = 60


@bp.post("/<customer_id>/password-reset")
async def password_reset(request: Request, customer_id: str):
    """Email a reset link to the address on file; the caller only learns the masked address."""
    validation.customer_id(customer_id)
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        link = RESET_LINK_BASE + token()
        repo.add_outbox(
            conn, kind="password_reset", customer_id=customer_id, to=customer["email"],
            subject="Reset your Brightcart password",
            body=f"Use this link within {RESET_LINK_MINUTES} minutes to choose a new password: "
                 f"{link}",
            data={"url": link, "expires_in_minutes": RESET_LINK_MINUTES}, created_at=now,
        )
    return reply({"customer_id": customer_id, "sent_to": repo.mask_email(customer["email"]),
                  "expires_in_minutes": RESET_LINK_MINUTES})


@bp.post("/<customer_id>/unlock")
async def unlock(request: Request, customer_id: str):
    """Self-service unlock, except for fraud locks, which a security specialist must review."""
    validation.customer_id(customer_id)
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        if customer["account_state"] != "locked":
            raise conflict("not_locked", f"Account {customer_id} is not locked.")
        if customer["lock_reason"] == "suspected_fraud":
            raise conflict(
                "requires_specialist_review",
                "This account was locked because of suspected fraud. It cannot be unlocked "
                "automatically; a security specialist must review it first.",
                lock_reason="suspected_fraud",
            )
        conn.execute(
            "UPDATE customers SET account_state = 'active', lock_reason = NULL, locked_at = NULL"
            " WHERE id = ?", (customer_id,),
        )
    return reply({"customer_id": customer_id, "account_state": "active",
                  "previous_lock_reason": customer["lock_reason"],
                  "message": "The account is unlocked; the customer can sign in again."})


@bp.post("/<customer_id>/email-change")
async def request_email_change(request: Request, customer_id: str):
    """Send a 6-digit code to the new address; the change happens only when it is confirmed."""
    validation.customer_id(customer_id)
    new_email = validation.email(validation.require_str(body(request), "new_email", max_len=254),
                                 "new_email")
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        if customer["email"].lower() == new_email.lower():
            raise conflict("same_email", "That is already the email address on the account.")
        _ensure_email_free(conn, customer_id, new_email)
        code = verification_code()
        conn.execute("UPDATE customers SET pending_email = ?, email_code = ? WHERE id = ?",
                     (new_email, code, customer_id))
        repo.add_outbox(
            conn, kind="email_change_code", customer_id=customer_id, to=new_email,
            subject="Confirm your new Brightcart email address",
            body=f"Your verification code is {code}. If you didn't ask for this, ignore this email.",
            data={"code": code, "new_email": new_email}, created_at=now,
        )
    return reply({"customer_id": customer_id, "verification_sent_to": new_email})


@bp.post("/<customer_id>/email-change/confirm")
async def confirm_email_change(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    data = body(request)
    raw = data.get("code")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = f"{raw:06d}"  # tolerate a code sent as a JSON number
        data = {**data, "code": raw}
    code = validation.require_str(data, "code", max_len=20).replace(" ", "")
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        if not customer["pending_email"]:
            raise conflict("no_pending_change", "There is no email change waiting to be confirmed.")
        if code != customer["email_code"]:
            raise bad_request("The verification code is not correct.", code="invalid_code")
        new_email = customer["pending_email"]
        _ensure_email_free(conn, customer_id, new_email)
        conn.execute(
            "UPDATE customers SET email = ?, pending_email = NULL, email_code = NULL WHERE id = ?",
            (new_email, customer_id),
        )
        # Tell the old address too, so an account takeover doesn't go unnoticed.
        repo.add_outbox(
            conn, kind="email_changed", customer_id=customer_id, to=customer["email"],
            subject="Your Brightcart email address was changed",
            body=f"The email on your account is now {new_email}. If this wasn't you, contact us.",
            data={"old_email": customer["email"], "new_email": new_email}, created_at=now,
        )
    return reply({"customer_id": customer_id, "email": new_email,
                  "message": "The email address has been updated."})


def _ensure_email_free(conn, customer_id: str, email: str) -> None:
    other = conn.execute(
        "SELECT id FROM customers WHERE email = ? COLLATE NOCASE AND id != ?", (email, customer_id)
    ).fetchone()
    if other is not None:
        raise conflict("email_in_use", "That email address is already used by another account.")
