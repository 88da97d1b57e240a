"""Reusable widgets that are not panels: they show one thing, not a model.

- ``player.PlayerWidget``: reviews a downloaded clip offline (QtMultimedia, FFmpeg backend).
- ``combo.ElidingComboBox``: a drop-down whose text ends with "…" when the box is too narrow.
- ``label.SelectableLabel``: a label whose text can be selected, laid out in the app's direction.
- ``text_direction.OwnDirectionEdit``: a multi-line text whose paragraphs are each laid out in
  their own writing direction, flush with their start (an Arabic paragraph at the right edge
  in the English app, a French quote in it at the left); the upload form edits the script and
  shot list with it, the detail pane shows them with it read-only.
"""
