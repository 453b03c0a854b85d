"""The promotion pointer: ``KIMERA_HOME/serving/promoted.json`` names the model that is served.

Written only by the promotion gate (atomically: a reader sees the old pointer or the new one,
never half of one); read by the model server, the signals assets and the retrain sensor. The
history of decisions lives in ``ml.promotions``; this file is the current answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kimera.settings import Settings, get_settings


@dataclass(frozen=True)
class Promoted:
    tag: str  # kimera-ensemble:<version>
    promotion_id: str  # the row of ml.promotions that decided it
    promoted_at: str  # ISO time, UTC
    previous: str | None = None


def pointer_path(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.home_dir / "serving" / "promoted.json"


def read_promoted(settings: Settings | None = None) -> Promoted | None:
    """The promoted model, or None when nothing was promoted yet."""
    path = pointer_path(settings)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a promotion pointer ({exc}); delete it and re-run the gate"
        ) from None
    return Promoted(**{k: data.get(k) for k in ("tag", "promotion_id", "promoted_at", "previous")})


def write_promoted(tag: str, promotion_id: str, settings: Settings | None = None) -> Promoted:
    """Point at ``tag``; the previous pointer is kept in ``previous`` (for a manual rollback)."""
    path = pointer_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    before = read_promoted(settings)
    promoted = Promoted(
        tag=tag,
        promotion_id=promotion_id,
        promoted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        previous=before.tag if before else None,
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(promoted), indent=2))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)
    return promoted
