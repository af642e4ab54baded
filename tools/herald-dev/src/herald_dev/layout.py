"""Where things are: the repository (web/, deploy/local/infra.sh) and the run state folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INFRA_SCRIPT = Path("deploy/local/infra.sh")


def find_root(start: Path | None = None) -> Path:
    """The Herald checkout: the first folder upwards from ``start`` (the working directory)
    that holds ``deploy/local/infra.sh``, else the one this package was installed from."""
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for origin in candidates:
        for folder in (origin, *origin.parents):
            if (folder / INFRA_SCRIPT).is_file():
                return folder
    raise FileNotFoundError(f"no Herald checkout (with {INFRA_SCRIPT}) above {candidates[0]}")


@dataclass(frozen=True)
class StateDirs:
    """``<state>/dev`` holds the development credentials, ``<state>/logs`` a log per process."""

    root: Path

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def credentials(self) -> Path:
        return self.dev / "credentials.json"

    @property
    def fcm_keys(self) -> Path:
        return self.dev / "fcm-keys"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"
