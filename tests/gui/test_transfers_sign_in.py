"""The Transfers table while the hub refuses the sign-in (tester "session", findings 2 and 3):
the rows held for it say "Waiting for sign-in", not "Failed" nor "Waiting to retry", and once
a new sign-in lets them go, "Queued" without the old error."""

from __future__ import annotations

from PySide6.QtCore import Qt

from alu_client.core.transfers.base import MSG_SIGN_IN_REFUSED, PHASE_SIGN_IN
from alu_client.ui.models import OBJECT_ROLE
from alu_client.ui.models.transfers import COL_ERROR, COL_STATE, TransferRow
from tests.gui.test_transfers_model import model_with, progress


def test_rows_held_for_a_sign_in_say_so_and_say_queued_once_let_go() -> None:
    m = model_with(2)
    held = [
        progress(1, 0, "queued", MSG_SIGN_IN_REFUSED, speed=0.0, eta=None, phase=PHASE_SIGN_IN),
        progress(2, 0, "queued", "", speed=0.0, eta=None, phase=PHASE_SIGN_IN),  # never started
    ]
    m.apply_progress(held)
    for r in (0, 1):
        assert m.index(r, COL_STATE).data() == "Waiting for sign-in"
        row = m.index(r, COL_STATE).data(OBJECT_ROLE)
        assert isinstance(row, TransferRow) and not row.retrying  # (no Retry: refused again)
    assert m.index(0, COL_ERROR).data() == MSG_SIGN_IN_REFUSED
    assert "Waiting for sign-in" in m.vocabulary(COL_STATE)  # (the column is wide enough)
    # a new sign-in: the queue lets them go, their error gone
    m.apply_progress([progress(1, 0, "queued", "", speed=0.0, eta=None)])
    assert m.index(0, COL_STATE).data() == "Queued"
    assert m.index(0, COL_ERROR).data() == ""
    assert m.index(0, COL_STATE).data(Qt.ItemDataRole.ToolTipRole) is None
