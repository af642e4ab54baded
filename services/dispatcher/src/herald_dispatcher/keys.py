"""Every Redis key of the dispatcher, defined once (all under the topic namespace)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "herald:dispatcher"


@dataclass(frozen=True)
class Keys:
    namespace: str = ""

    @property
    def base(self) -> str:
        return f"{self.namespace}{PREFIX}"

    def targets(self, user_id: str) -> str:
        """Hash of one user's current targets: ``v`` = TokenSet version, ``s`` = its bytes."""
        return f"{self.base}:targets:{user_id}"

    def projection_applied(self, partition: int) -> str:
        """Next offset of herald.tokens.v1 partition ``partition`` the projection will apply;
        absent = Redis lost the projection of that partition, which is then rebuilt."""
        return f"{self.base}:tokens-applied:{partition}"

    def delivery(self, notification_id: str, project: str, target: str) -> str:
        """State of one (notification occurrence, target): pending, sent or another outcome.

        A notification_id names one occurrence (the scheduler's are "<reminder>@<occurrence ms>",
        a hand-back keeps its original's), so it alone is the occurrence's identity. The
        occurrence time is left out on purpose: a product service retrying a send-now with the
        same notification_id gets a new occurrence_at each time, and must not notify twice."""
        digest = hashlib.blake2b(
            f"{notification_id}\0{project}\0{target}".encode(), digest_size=16
        ).hexdigest()
        return f"{self.base}:delivery:{digest}"

    def rate_bucket(self, project: str) -> str:
        """Hash of the shared token bucket of one FCM project."""
        return f"{self.base}:rate:{project}"
