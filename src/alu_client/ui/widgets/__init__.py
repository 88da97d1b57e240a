"""Reusable widgets that are not panels: they show one thing, not a model.

- ``player.PlayerWidget``: reviews a downloaded clip offline (QtMultimedia, FFmpeg backend).
- ``combo.ElidingComboBox``: a drop-down whose text ends with "…" when the box is too narrow.
"""
