"""A workstation's name (``device``) as the hub stores and shows it.

The name is what the workstation sent: its host name, or anything a modified client puts
there. Printed as sent, an escape sequence clears or recolours the agency's terminal, a U+202E
reverses the rest of the line and a line feed forges a row of a report. So the hub stores it
cleaned (sign-ins, history events: the API's answers carry no control characters either), and
cleans it again wherever it shows one (rows stored before it cleaned them).
"""

from __future__ import annotations

#: The longest device name stored (the columns are String(200)).
DEVICE_LIMIT = 200


def one_line(text: str) -> str:
    """Text from outside, on one line, with nothing that would steer a terminal: each
    character that is not printable (controls, line breaks, format characters such as the
    direction overrides) becomes ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


def stored(device: str) -> str:
    """A device name as the hub stores it: one line, cleaned, within DEVICE_LIMIT."""
    return one_line(device)[:DEVICE_LIMIT]
