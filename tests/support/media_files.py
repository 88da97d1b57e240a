"""Media files made for tests from a generated clip, without re-encoding."""

from __future__ import annotations

from pathlib import Path

import av


def sound_only(clip: Path, dest: Path) -> Path:
    """``dest`` (an .m4a, say): ``clip``'s sound and nothing else, as a reporter's voice-over
    or an interview recorded on a phone's sound recorder."""
    with av.open(str(clip)) as source, av.open(str(dest), "w") as out:
        audio = source.streams.audio[0]
        copied = out.add_stream_from_template(audio)
        for packet in source.demux(audio):
            if packet.dts is None:
                continue
            packet.stream = copied
            out.mux(packet)
    return dest
