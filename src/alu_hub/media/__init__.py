"""Reading and writing video files: probe, preview proxy, thumbnail and demo clips.

Everything here goes through PyAV (FFmpeg's libraries), so the hub and the client need no
``ffmpeg`` executable and no image or array library. The module imports nothing from the
rest of the project because the client uses it as well as the hub.

Two rules hold for every function that writes a file:

* the result is written under a temporary name in the destination folder and renamed
  over the destination at the very end, so a crash or a full disk never leaves half a
  file where a finished one is expected;
* sources are decoded and encoded frame by frame, so memory stays flat however long or
  large the source is.
"""

from .common import MediaError
from .generate import generate_clip
from .probe import MediaInfo, probe
from .proxy import make_proxy
from .thumbnail import make_thumbnail

__all__ = [
    "MediaError",
    "MediaInfo",
    "generate_clip",
    "make_proxy",
    "make_thumbnail",
    "probe",
]
