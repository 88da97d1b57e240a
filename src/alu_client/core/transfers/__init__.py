"""The transfer engine: verified, resumable downloads (HTTP Range, several streams) and tus
uploads, run by a persistent queue with bandwidth limits and retries.

``base`` holds what the jobs share (errors, control, context); ``download`` and ``upload`` are
the jobs; ``throttle`` and ``retry`` the policies; ``queue`` the scheduler that runs them.
"""
