"""Issue 6: the fault matrix, the crash soak, hostile servers and secrets."""
