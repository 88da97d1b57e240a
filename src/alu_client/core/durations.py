"""A length of time in a few words for the CLI's and the log's sentences ("7 min", "5 h",
"3 days", "2 years"): how far a clock is off."""

from __future__ import annotations


def duration_words(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"{hours} h"
    days = round(seconds / 86400)
    if days < 730:
        return f"{days} days"
    return f"{round(days / 365.25)} years"
