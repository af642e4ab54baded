"""Typed keys of the application state."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from herald_token_api.auth import Authenticator
from herald_token_api.kafka import KafkaLink
from herald_token_api.registrar import Registrar
from herald_token_api.settings import TokenApiSettings

SETTINGS = web.AppKey("settings", TokenApiSettings)
# An asyncpg pool (asyncpg ships no type information).
POOL: web.AppKey[Any] = web.AppKey("pool")
AUTH = web.AppKey("auth", Authenticator)
KAFKA = web.AppKey("kafka", KafkaLink)
REGISTRAR = web.AppKey("registrar", Registrar)
