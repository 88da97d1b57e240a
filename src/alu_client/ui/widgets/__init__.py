"""Reusable widgets that are not panels: they show one thing, not a model.

- ``player.PlayerWidget``: reviews a downloaded clip offline (QtMultimedia, FFmpeg backend).
- ``combo.ElidingComboBox``: a drop-down whose text ends with "…" when the box is too narrow.
- ``label.SelectableLabel``: a label whose text can be selected, laid out in the app's direction.
- ``text_direction.OwnDirectionEdit``: a multi-line text laid out in its own writing direction,
  flush with its start (an Arabic script at the right edge in the English app); the same
  ``align_to_text`` lays out the detail pane's script and shot list.
"""
