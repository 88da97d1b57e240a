"""What a hot folder records of a file (``watch_files.error``): the problem that kept it from
being sent, or a note on how it was sent; and of a folder (``watch_folders.problem``): why it
cannot be watched now. English, as ``alu watch list`` prints them; the app
shows each in the user's language through its template in ``alu_client/ui/engine_text.py``,
matched on the words around the ``{details}`` (so they are whole sentences here, filled with
``str.format``, never glued together where they are used). ``tests/gui/test_engine_text.py``
checks that every one has a template.
"""

from __future__ import annotations

from typing import Final

# --- taking a file (scan) -----------------------------------------------------------------------

#: something not foreseen went wrong with the file; ``reason``: the system's words, or the error's
MSG_NOT_TAKEN: Final = "{name} could not be taken: {reason}."
#: the file stayed unreadable after it settled
MSG_UNREADABLE: Final = "{name} cannot be read: {reason}."
#: ``problem``: the probe's sentence (``MediaError``), which names the file
MSG_NOT_A_VIDEO: Final = "{problem} The hub would refuse it; it was not sent."
#: (a sent row's note) the same bytes went from this or another hot folder already
MSG_SAME_CONTENT: Final = "Not uploaded again: the same content was already sent as {first}."
MSG_NOT_QUEUED: Final = "It could not be queued: {reason}"
#: a file sent, then changed where it was (a copy that stalled longer than the settle time)
MSG_CHANGED_AFTER_START: Final = (
    "{name} changed after its upload started (was it still being copied?): the item published"
    " from it may be incomplete. The file as it is now is sent as a new upload."
)

#: (kept in memory, not a row) another workstation watching the same folder holds the file's
#: claim: it is sending it (``host``: its host name)
MSG_SENT_ELSEWHERE: Final = (
    "{name} is being sent by {host}, another workstation watching this folder; it is not sent"
    " from here."
)
#: (claims) this workstation's upload of the file was taken over by another one (``host``)
#: while this one was asleep or off the network; not a problem to fix
MSG_TAKEN_OVER: Final = (
    "{name} was taken over by {host}, another workstation watching this folder, while this one"
    " was asleep or off the network: it is sent from there, and its upload here was canceled."
    " Nothing needs to be done."
)

# --- its sidecar and fields (scan) ----------------------------------------------------------------

MSG_SIDECAR_UNREADABLE: Final = "The sidecar {sidecar} cannot be read: {reason}."
MSG_SIDECAR_NOT_UTF8: Final = "The sidecar {sidecar} is not UTF-8 text."
#: ``error``: the JSON parser's words (where in the file)
MSG_SIDECAR_NOT_JSON: Final = (
    "The sidecar {sidecar} is not valid JSON ({error}). Fix it and {name} is taken again."
)
MSG_SIDECAR_NOT_OBJECT: Final = 'The sidecar {sidecar} must be a JSON object like {{"title": "…"}}.'
#: ``field``: the key as the sidecar has it
MSG_SIDECAR_NOT_TEXT: Final = "In the sidecar {sidecar}, {field} must be text."
#: a field refused (``problem``: the ``FieldError``'s sentence), and where its value came from
MSG_FIELD_FROM_SIDECAR: Final = "{name}: {problem} (from the sidecar {sidecar})"
MSG_FIELD_FROM_DEFAULTS: Final = "{name}: {problem} (from the hot folder's defaults)"
MSG_FIELD_FROM_NAME: Final = "{name}: {problem} (from the file name)"

# --- sent files (move) ------------------------------------------------------------------------

#: (a sent row's note) its sidecar was written after the file was queued
MSG_SIDECAR_LATE: Final = (
    "Sent without {sidecar}: it arrived after {name} was taken, and its fields were not used"
    " (the item went out with the folder's defaults and the file name); it is in the sent"
    ' folder marked "not used". Write the sidecar first, or give the folder a longer settle'
    " time."
)
#: a file that grew in the sent folder, put back in the hot folder
MSG_PUT_BACK: Final = (
    "{name} changed after it was moved to the sent folder (it was still being copied): the"
    " item published from it may be incomplete. It was put back in the hot folder, and is sent"
    " as a new upload once it has been still for the settle time."
)
#: the same, its sidecar left behind (one sentence more: a template of its own)
MSG_PUT_BACK_SIDECAR_LEFT: Final = (
    MSG_PUT_BACK + " Its sidecar {sidecar} could not be moved back with it: the file waits for"
    " it, which is tried again at every scan."
)

# --- the end of its upload (records) ------------------------------------------------------------

#: ``reason``: the hub's own words
MSG_HUB_REFUSED: Final = "The hub refused it: {reason}"
MSG_HUB_REFUSED_SILENT: Final = "The hub refused it: no reason given"
MSG_CANCELED: Final = "The upload was canceled."
MSG_FAILED: Final = "The upload failed."
MSG_REMOVED: Final = "The upload was removed from the queue."

# --- the folder itself (scan, move): ``watch_folders.problem``, cleared when it goes away -------

#: the folder is not there (``folder``: its path)
MSG_FOLDER_MISSING: Final = (
    "The hot folder {folder} is not there (a drive unplugged, a share not mounted?): its files"
    " are taken once it is back."
)
#: ``reason``: the system's words
MSG_FOLDER_UNREADABLE: Final = "The hot folder {folder} cannot be read: {reason}."
#: the folder is where downloads are saved (the download folder, a rule's folder)
MSG_FOLDER_IS_DOWNLOADS: Final = (
    "The hot folder {folder} is also where downloads are saved: every clip downloaded there"
    " would be published again. Nothing is taken from it; choose another folder for the one or"
    " the other."
)
#: an entry that is a link (symbolic link, Windows junction) or a special file (a FIFO, a
#: device): what it points to is not sent (``name``: the entry's, ``folder``: the hot folder)
MSG_NOT_PLAIN: Final = (
    "{name} in the hot folder {folder} is a link (a shortcut to a file elsewhere) or a special"
    " file: links are not followed, so it is not sent. Put the file itself in the folder."
)
#: a sent file's move to the sent folder failed (``sent``: that folder)
MSG_SENT_NOT_WRITABLE: Final = (
    "Files sent cannot be moved to the sent folder {sent}: {reason}. They stay in the hot"
    " folder, and are moved once it can be written."
)
