"""The transfer client without widgets: paths, hub client, store, transfers, sync.

Nothing here imports QtWidgets; the CLI and most tests drive it headless.
"""
