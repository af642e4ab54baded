"""FCM through firebase-admin's own ``send_each_async`` (its httpx client): the reference path,
selected with ``HERALD_FCM_CLIENT=firebase-admin`` and measured against in the benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import firebase_admin  # type: ignore[import-untyped,unused-ignore]
from firebase_admin import credentials, exceptions, messaging

from herald_dispatcher import fcm
from herald_dispatcher.fcm import FcmRequest, FcmResponse, SendByPassed
from herald_dispatcher.http_sender import send_url
from herald_dispatcher.settings import REAL_FCM_URL


class SdkFcmSender:
    def __init__(self, base_url: str, credential_files: Mapping[str, Path], timeout_s: float):
        self._base_url = base_url
        self._files = dict(credential_files)
        self._timeout_s = timeout_s
        self._apps: dict[str, Any] = {}

    async def start(self) -> None:
        for project, path in self._files.items():
            if project in self._apps:
                continue
            app = firebase_admin.initialize_app(
                credentials.Certificate(str(path)),
                {"projectId": project, "httpTimeout": self._timeout_s},
                name=f"herald-dispatcher-{project}",
            )
            if self._base_url.rstrip("/") != REAL_FCM_URL:
                # firebase-admin has no setting for the endpoint (see the FCM emulator README).
                service = messaging._get_messaging_service(app)
                service._fcm_url = send_url(self._base_url, project)
            self._apps[project] = app

    async def stop(self) -> None:
        apps, self._apps = self._apps, {}
        for app in apps.values():
            await messaging._get_messaging_service(app)._async_client.aclose()
            await asyncio.to_thread(firebase_admin.delete_app, app)

    async def send(self, request: FcmRequest) -> FcmResponse:
        # firebase-admin gets its token and connection inside the call: checked before it only.
        if request.too_late():
            raise SendByPassed
        app = self._apps[request.project_id]
        batch = await messaging.send_each_async([request.message()], app=app)
        (answer,) = batch.responses
        if answer.success:
            return FcmResponse(200, name=str(answer.message_id))
        return _from_exception(answer.exception)


def _from_exception(exc: exceptions.FirebaseError) -> FcmResponse:
    http = exc.http_response
    if http is None:
        return fcm.transport_error(exc)
    return fcm.error(int(http.status_code), bytes(http.content), http.headers.get("Retry-After"))
