"""The client's SQLite store (WAL, one writer): transfers now; library, history and settings
join it in later migrations. See ``db`` (connection, migrations) and ``transfers``."""

from .db import NoRoomToUpdate, SchemaTooNew, Store, peek, steps_pending
from .problems import (
    damaged_words,
    disk_full,
    disk_full_words,
    is_damage,
    not_damage_words,
    path_too_long,
    path_too_long_words,
    read_only_folder,
)

__all__ = [
    "NoRoomToUpdate",
    "SchemaTooNew",
    "Store",
    "damaged_words",
    "disk_full",
    "disk_full_words",
    "is_damage",
    "not_damage_words",
    "path_too_long",
    "path_too_long_words",
    "peek",
    "read_only_folder",
    "steps_pending",
]
