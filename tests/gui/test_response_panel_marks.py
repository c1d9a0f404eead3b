"""The response panel marks a visit whose read is incomplete and says where progression dates from (the
radiologist's findings: "New: no" and SD while a new lesion seen before was not looked at yet; a backdated
progression showed only as a greyed response)."""

from __future__ import annotations

from tests.unit.test_awaiting_confirmation import _m, _session
from workstation.read_model import LesionStatus, Role
from workstation.session.response import summarize


def test_a_visit_leaving_out_a_lesion_is_incomplete_and_backdated_progression_is_dated(qtbot):
    from workstation.ui.response_panel import ResponsePanel

    s = _session([40.0, 40.0, 40.0])
    s.go_to_timepoint(1)
    n1 = s.add_lesion(Role.NEW, "liver")
    s.set_status(n1, LesionStatus.EQUIVOCAL)
    panel = ResponsePanel()
    qtbot.addWidget(panel)
    summary = summarize(s.read)
    assert summary.unassessed == {"week 12": [n1]}
    panel.show_summary(summary)
    week12 = panel.table.item(2, 7)
    assert week12.text() == "SD (incomplete)" and panel.table.item(2, 8).text() == "iSD (incomplete)"
    assert week12.toolTip().startswith(f"{n1} not assessed at this visit yet: this response may still change")
    assert panel.table.item(1, 7).text() == "SD"

    s.go_to_timepoint(2)
    s.set_status(n1, LesionStatus.UNEQUIVOCAL)
    s.record_measurement("T1", _m(40.0))
    panel.show_summary(summarize(s.read))
    assert panel.table.item(2, 7).text() == "PD"
    assert "RECIST 1.1 progression dated 2026-02-16 (week 6)" in panel.bor_label.text()
