"""The demo page in Debian's Chromium, driven as a person would: sign in, get a notification,
click it, survive a target rotation, sign out — checked in PostgreSQL, in the service worker
and on the (stand-in) desktop."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from e2e.desktop import NotificationServer, desktop_notifications
from e2e.support import CHROMIUM, CHROMIUM_ARGS, targets_of, until
from playwright.async_api import BrowserContext, Page, async_playwright
from redis.asyncio import Redis

from fcm_emulator.client import EmulatorClient
from herald_dev.pending import pending
from herald_dev.stack import Stack

STORED_TARGET = "JSON.parse(localStorage.getItem('herald.emulator-target')).value"
NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, link: n.data.link }));
}"""

TAGS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => n.tag);
}"""
NOTIFICATIONS_BY_TAG = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const byTag = {};
  for (const n of await registration.getNotifications()) (byTag[n.tag] ||= []).push(n.title);
  return byTag;
}"""


@pytest.fixture
async def desktop(tmp_path: Path) -> AsyncIterator[tuple[str, NotificationServer]]:
    async with desktop_notifications(tmp_path) as running:
        yield running


@pytest.fixture
async def browser(
    desktop: tuple[str, NotificationServer], tmp_path: Path
) -> AsyncIterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run deploy/local/browser.sh (make test does)")
    address, _ = desktop
    async with async_playwright() as playwright:
        # A persistent profile: Chromium routes notification clicks to the profile that showed
        # the notification, which must be a regular (not incognito) one.
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
        )
        try:
            yield context
        finally:
            await context.close()


async def open_demo(context: BrowserContext, demo_url: str) -> Page:
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(demo_url + "/")
    await page.wait_for_selector("#push-status[data-state]")
    return page


async def sign_in(page: Page, user: str) -> None:
    await page.fill("#user", user)
    await page.click("#sign-in")


async def registered(page: Page) -> str:
    """Wait for the client to report the target registered; returns the target."""
    await page.wait_for_selector("#push-status[data-state=registered]", timeout=15_000)
    target: str = await page.evaluate(STORED_TARGET)
    return target


async def test_a_notification_from_sign_in_to_sign_out(
    stack: Stack,
    demo_url: str,
    browser: BrowserContext,
    desktop: tuple[str, NotificationServer],
    emulator: EmulatorClient,
) -> None:
    _, screen = desktop
    database_url = stack.config.database_url
    user = f"browser-{secrets.token_hex(4)}"
    page = await open_demo(browser, demo_url)
    assert await page.text_content("#push-status") == "signed-out"

    await sign_in(page, user)
    await page.wait_for_selector("#push-status[data-state=needs-permission]")
    assert await targets_of(database_url, user) == []
    # The person accepts the browser's prompt that the button's click brings up.
    await browser.grant_permissions(["notifications"], origin=demo_url)
    await page.click("#enable")
    target = await registered(page)
    assert await targets_of(database_url, user) == [target]

    await page.fill("#timer-seconds", "3")
    clicked = time.monotonic()
    await page.click("#notify-timer")

    async def shown_by_worker() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await page.evaluate(NOTIFICATIONS)
        return found

    (notification,) = await until(shown_by_worker, bool, 20, "the service worker's notification")
    assert time.monotonic() - clicked >= 3.0
    assert notification["title"] == "Timer done"
    assert notification["body"] == "Your 3-second timer ended."
    assert notification["link"].startswith(f"{demo_url}/?reminder=demo-")
    on_screen = await screen.wait_for(lambda s: s.summary == "Timer done", 5)
    assert "Your 3-second timer ended." in on_screen.body
    await page.wait_for_selector("#received li:has-text('Timer done')")
    await page.wait_for_selector("#deliveries li[data-status=sent]", timeout=10_000)

    async with browser.expect_page() as opening:
        screen.click(on_screen)
    opened = await opening.value
    await opened.wait_for_load_state()
    assert opened.url == notification["link"]
    await opened.wait_for_selector("#opened:not([hidden])")
    await opened.close()
    assert await shown_by_worker() == []

    rotated = await emulator.rotate_target(target)
    await page.reload()
    new_target = await registered(page)
    assert new_target not in (target, rotated.target)
    assert await targets_of(database_url, user) == [new_target]

    await page.click("#list-devices")
    await page.wait_for_selector("#devices tbody tr")
    assert await page.locator("#devices tbody tr").count() == 1
    assert "this browser" in (await page.text_content("#devices tbody tr") or "")

    await page.click("#sign-out")
    await page.wait_for_selector("#push-status[data-state=signed-out]")
    assert await targets_of(database_url, user) == []


async def test_a_daily_reminder_waits_in_the_scheduler_until_cancelled(
    stack: Stack, demo_url: str, browser: BrowserContext
) -> None:
    user = f"daily-{secrets.token_hex(4)}"
    await browser.grant_permissions(["notifications"], origin=demo_url)
    page = await open_demo(browser, demo_url)
    await sign_in(page, user)
    await registered(page)
    await page.fill("#daily-time", "09:00")
    await page.click("#notify-daily")
    item = page.locator("#reminders li", has_text="every day at 09:00")
    await item.wait_for()
    reminder_id = await item.get_attribute("data-reminder-id")

    redis = Redis.from_url(stack.config.scheduler_redis_url)
    try:

        async def mine() -> list[Any]:
            found = await pending(redis, stack.config.namespace)
            return [p for p in found if p.reminder and p.reminder.user_id == user]

        (waiting,) = await until(mine, bool, 10, "the daily reminder in the scheduler")
        assert waiting.reminder_id == reminder_id
        assert waiting.reminder is not None
        assert waiting.reminder.rrule == "FREQ=DAILY"
        assert waiting.reminder.time_zone == await page.text_content("#time-zone")

        await item.get_by_role("button", name="Cancel").click()
        await item.wait_for(state="detached")
        await until(mine, lambda found: found == [], 10, "the cancelled reminder gone")
    finally:
        await redis.aclose()


async def test_a_browser_that_denied_notifications_registers_nothing(
    stack: Stack, demo_url: str, browser: BrowserContext
) -> None:
    user = f"denied-{secrets.token_hex(4)}"
    page = await open_demo(browser, demo_url)
    session = await browser.new_cdp_session(page)
    await session.send(
        "Browser.setPermission",
        {"permission": {"name": "notifications"}, "setting": "denied", "origin": demo_url},
    )
    await page.reload()
    await page.wait_for_selector("#push-status[data-state]")
    await sign_in(page, user)
    await page.wait_for_selector("#push-status[data-state=denied]")
    assert await page.text_content("#permission") == "denied"
    assert "blocked" in (await page.text_content("#permission-help") or "")
    assert await page.locator("#enable").is_hidden()
    assert await targets_of(stack.config.database_url, user) == []


async def push_from_fcm(
    browser: BrowserContext, page: Page, demo_url: str
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A function delivering FCM's web push data to the page's worker, as the browser's push
    service would."""
    await page.evaluate("navigator.serviceWorker.ready")
    session = await browser.new_cdp_session(page)
    registrations: list[str] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    await session.send("ServiceWorker.enable")

    async def registration_ids() -> list[str]:
        return registrations

    (registration_id, *_) = await until(registration_ids, bool, 5, "the worker's registration")

    async def push(payload: dict[str, Any]) -> None:
        await session.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": demo_url, "registrationId": registration_id, "data": json.dumps(payload)},
        )

    return push


async def test_a_push_from_fcm_is_shown_by_the_same_worker(
    demo_url: str, browser: BrowserContext, desktop: tuple[str, NotificationServer]
) -> None:
    _, screen = desktop
    await browser.grant_permissions(["notifications"], origin=demo_url)
    page = await open_demo(browser, demo_url)
    push = await push_from_fcm(browser, page, demo_url)
    link = "https://app.example/reminders/7"
    # FCM's web push data as the browser's push service delivers it to a worker.
    await push(
        {
            "notification": {"title": "From FCM", "body": "A real push", "click_action": "/x"},
            "fcmOptions": {"link": link},
            "data": {"kind": "reminder"},
            "from": "512398473401",
            "fcmMessageId": "0:1795419344699110",
            "collapse_key": "do_not_collapse",
        }
    )
    on_screen = await screen.wait_for(lambda s: s.summary == "From FCM", 10)
    assert "A real push" in on_screen.body
    shown = await page.evaluate(NOTIFICATIONS)
    assert {"title": "From FCM", "body": "A real push", "link": link} in shown
    await page.wait_for_selector("#received li:has-text('From FCM')")


async def test_a_resent_notification_replaces_the_one_shown_under_its_tag(
    demo_url: str, browser: BrowserContext
) -> None:
    await browser.grant_permissions(["notifications"], origin=demo_url)
    page = await open_demo(browser, demo_url)
    push = await push_from_fcm(browser, page, demo_url)
    tag = f"n-{secrets.token_hex(4)}"

    def sent(title: str, message_id: str, tag: str) -> dict[str, Any]:
        # Herald's message as FCM passes it on: the web push notification with its tag.
        notification = {"title": title, "body": "Tea is ready", "tag": tag}
        return {"notification": notification, "fcmMessageId": message_id, "data": {}}

    async def shown_tags() -> list[str]:
        found: list[str] = await page.evaluate(TAGS)
        return found

    # A send interrupted by a crash, then the dispatcher's resend: two FCM messages, one tag.
    await push(sent("Tea timer", "0:1", tag))
    await until(shown_tags, lambda tags: tag in tags, 20, "the first notification")
    await push(sent("Tea timer (resent)", "0:2", tag))
    await push(sent("Another timer", "0:3", tag + "-other"))
    await until(shown_tags, lambda tags: tag + "-other" in tags, 20, "the other notification")

    shown = await page.evaluate(NOTIFICATIONS_BY_TAG)
    assert shown[tag] == ["Tea timer (resent)"]
    assert shown[tag + "-other"] == ["Another timer"]
