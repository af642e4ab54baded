"""The emulator's state, shared by its handlers under one typed application key."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from aiohttp import web

from fcm_emulator.faults import FaultConfig, FaultInjector
from fcm_emulator.oauth import AccessTokens
from fcm_emulator.records import MessageLog
from fcm_emulator.service_account import Keystore
from fcm_emulator.settings import Settings
from fcm_emulator.streams import DeliveryHub
from fcm_emulator.targets import TargetRegistry


@dataclass(slots=True)
class Emulator:
    settings: Settings
    keystore: Keystore
    tokens: AccessTokens
    targets: TargetRegistry
    hub: DeliveryHub
    log: MessageLog
    faults: FaultInjector
    message_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(time.time_ns() // 1000)
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Emulator:
        return cls(
            settings=settings,
            keystore=Keystore(settings.service_account_files, settings.service_accounts_dir),
            tokens=AccessTokens(settings.access_token_ttl_s),
            targets=TargetRegistry(settings.strict_targets),
            hub=DeliveryHub(),
            log=MessageLog(settings.max_records),
            faults=FaultInjector(),
        )

    def reset(self) -> None:
        """Forget received messages, faults and targets; trusted accounts and access tokens
        stay, so connected senders keep working."""
        self.log.clear()
        self.faults.configure(FaultConfig())
        self.targets.clear()


EMULATOR = web.AppKey("emulator", Emulator)
