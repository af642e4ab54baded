"""The service endpoints: product services schedule, cancel and send notifications. They only
validate and publish events, and answer 202 with the id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from herald import topics
from herald_token_api import events
from herald_token_api.bodies import read_body
from herald_token_api.openapi import Endpoint, Reply
from herald_token_api.schemas import (
    EVENT_ID_PATTERN,
    NotificationAccepted,
    NotificationRequest,
    ReminderAccepted,
    ReminderRequest,
)
from herald_token_api.state import AUTH, KAFKA

log = logging.getLogger(__name__)


def _accepted(body: ReminderAccepted | NotificationAccepted) -> web.Response:
    return web.Response(status=202, text=body.model_dump_json(), content_type="application/json")


async def schedule_reminder(request: web.Request) -> web.StreamResponse:
    service = await request.app[AUTH].service(request)
    body = await read_body(request, ReminderRequest)
    event = events.reminder(body, datetime.now(UTC))
    await request.app[KAFKA].publish(topics.REMINDERS, event.reminder_id, event)
    log.info("reminder scheduled", extra={"reminder_id": event.reminder_id, "by": service})
    return _accepted(ReminderAccepted(reminder_id=event.reminder_id))


async def cancel_reminder(request: web.Request) -> web.StreamResponse:
    service = await request.app[AUTH].service(request)
    reminder_id = request.match_info["reminder_id"]
    await request.app[KAFKA].publish(topics.REMINDERS, reminder_id, None)
    log.info("reminder cancelled", extra={"reminder_id": reminder_id, "by": service})
    return _accepted(ReminderAccepted(reminder_id=reminder_id))


async def send_notification(request: web.Request) -> web.StreamResponse:
    service = await request.app[AUTH].service(request)
    body = await read_body(request, NotificationRequest)
    event = events.notification(body, datetime.now(UTC))
    await request.app[KAFKA].publish(topics.NOTIFICATIONS_DUE, event.user_id, event)
    log.info("notification sent", extra={"notification_id": event.notification_id, "by": service})
    return _accepted(NotificationAccepted(notification_id=event.notification_id))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/reminders",
        schedule_reminder,
        "Schedule a reminder (one-shot, or an RRULE in an IANA time zone)",
        "service",
        {202: Reply("Published to herald.reminders.v1", ReminderAccepted)},
        request=ReminderRequest,
        tag="service",
    ),
    Endpoint(
        "DELETE",
        "/v1/reminders/{reminder_id}",
        cancel_reminder,
        "Cancel a reminder (a tombstone on herald.reminders.v1)",
        "service",
        {202: Reply("Tombstone published", ReminderAccepted)},
        path_params={"reminder_id": EVENT_ID_PATTERN.strip("^$")},
        tag="service",
    ),
    Endpoint(
        "POST",
        "/v1/notifications",
        send_notification,
        "Send a notification to a user's devices now",
        "service",
        {202: Reply("Published to herald.notifications.due.v1", NotificationAccepted)},
        request=NotificationRequest,
        tag="service",
    ),
]
