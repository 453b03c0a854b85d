"""The kill switch: ACTIVE trades, REDUCING only lets orders that shrink a position through, HALTED
lets no new order through. Cancels always pass. The state is journaled, so a restart keeps it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum


class SwitchState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass
class KillSwitch:
    state: SwitchState = SwitchState.ACTIVE
    reason: str = ""
    changed_at: float = 0.0

    def set(self, state: SwitchState, reason: str) -> None:
        self.state, self.reason, self.changed_at = state, reason, time.time()

    def allows(self, reducing: bool) -> bool:
        """Whether a new order may go out; ``reducing`` says it shrinks the position it trades."""
        if self.state is SwitchState.ACTIVE:
            return True
        return self.state is SwitchState.REDUCING and reducing
