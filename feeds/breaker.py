"""A small circuit breaker that backs off a failing upstream.

closed ──N consecutive failures──► open ──cool-down──► half-open ──success──► closed
                                     ▲                    │
                                     └────failure─────────┘  (cool-down doubles, capped)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    """Decides whether to try an upstream now. ``clock`` returns epoch seconds."""

    failure_threshold: int = 3
    base_cooldown_s: float = 10.0
    max_cooldown_s: float = 600.0
    clock: Callable[[], float] = field(default=time.time, repr=False)
    state: str = CLOSED
    failures: int = 0  # consecutive failures
    trips: int = 0  # times opened since the last success; sets the cool-down
    next_try_at: float = 0.0

    def cooldown_s(self) -> float:
        """The cool-down of the current (or next) open period."""
        return min(self.max_cooldown_s, self.base_cooldown_s * 2 ** max(0, self.trips - 1))

    def allow(self) -> bool:
        """May we call the upstream now? Moves open → half-open when the cool-down is over."""
        if self.state == OPEN and self.clock() >= self.next_try_at:
            self.state = HALF_OPEN
        return self.state != OPEN

    def record_success(self) -> None:
        self.state, self.failures, self.trips, self.next_try_at = CLOSED, 0, 0, 0.0

    def record_failure(self) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or (self.state == CLOSED
                                       and self.failures >= self.failure_threshold):
            self.trips += 1
            self.state = OPEN
            self.next_try_at = self.clock() + self.cooldown_s()

    def health(self) -> dict[str, str]:
        """Fields for the feed health hash: ``breaker`` and ``next_try_at`` (epoch or "")."""
        return {"breaker": self.state, "failures": str(self.failures),
                "next_try_at": f"{self.next_try_at:.0f}" if self.state == OPEN else ""}
