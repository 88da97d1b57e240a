"""Reusable widgets that are not panels: they show one thing, not a model.

- ``player.PlayerWidget``: reviews a downloaded clip offline (QtMultimedia, FFmpeg backend).
- ``combo.ElidingComboBox``: a drop-down whose text ends with "…" when the box is too narrow.
- ``label.SelectableLabel``: a label whose text can be selected, laid out in the app's direction.
"""
