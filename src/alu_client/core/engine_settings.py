"""The saved bandwidth limits and weekly schedule put on a transfer queue, and what a limit
given for one run is: apart from ``services`` so that `alu fetch` and `alu tus-put`, which
need only the queue, start without the hub client, the library and the keyring."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final, Literal

from .transfers.schedule import Schedule

if TYPE_CHECKING:
    from .settings import AppSettings
    from .transfers.queue import TransferQueue

#: a limit for ``start_engine`` / ``apply_settings`` that keeps the saved one
SAVED: Final = "saved"
#: bytes per second, None for unlimited, or SAVED
Limit = float | None | Literal["saved"]

#: how long an engine starting waits for the data folder's lock before it says another engine
#: works there: `alu queue` holds it for a moment to see whether one runs
ENGINE_LOCK_WAIT = 2.0


def apply_settings(
    queue: TransferQueue,
    settings: AppSettings,
    *,
    limit_down: Limit = SAVED,
    limit_up: Limit = SAVED,
) -> None:
    """The saved bandwidth limits and weekly schedule on ``queue``. A limit given (bytes per
    second, None for unlimited: a CLI flag for one run) replaces, in its direction, the saved
    limit and every limit of the schedule; the other direction keeps what was saved."""
    down = settings.limit_down if isinstance(limit_down, str) else limit_down
    up = settings.limit_up if isinstance(limit_up, str) else limit_up
    queue.set_limits(down, up)
    schedule = settings.schedule
    if schedule is not None and not (isinstance(limit_down, str) and isinstance(limit_up, str)):
        schedule = Schedule(
            [
                dataclasses.replace(
                    rule,
                    down_bps=rule.down_bps if isinstance(limit_down, str) else limit_down,
                    up_bps=rule.up_bps if isinstance(limit_up, str) else limit_up,
                )
                for rule in schedule.rules
            ],
            default_down=schedule.default_down if isinstance(limit_down, str) else limit_down,
            default_up=schedule.default_up if isinstance(limit_up, str) else limit_up,
        )
    queue.set_schedule(schedule)
