"""The panels of the main window; each shows a model from ``ui.models`` through a proxy."""
