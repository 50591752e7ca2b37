"""Small helpers shared by the route modules: access to app state and JSON replies."""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, json

from . import validation
from .config import Settings
from .dates import Clock
from .db import Database


def db(request: Request) -> Database:
    return request.app.ctx.db


def clock(request: Request) -> Clock:
    return request.app.ctx.clock


def settings(request: Request) -> Settings:
    return request.app.ctx.settings


def body(request: Request) -> dict[str, Any]:
    return validation.json_body(request.body)


def reply(data: Any, status: int = 200) -> HTTPResponse:
    return json(data, status=status)
