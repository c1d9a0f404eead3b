"""The lesion table: merge offered only within an organ and saying what to do next; cells of split and too-small
lesions (the radiologist's findings)."""

from __future__ import annotations

from tests.unit.test_session_merge import _m, _session
from workstation.read_model import LesionStatus


def _actions(menu, title):
    sub = next(a.menu() for a in menu.actions() if a.menu() is not None and a.menu().title() == title)
    return {a.text(): a for a in sub.actions()}


def test_merge_menu_offers_targets_of_the_same_organ_and_says_to_measure_the_host_again(qtbot):
    from workstation.ui.lesion_table import LesionTable, cell_text

    s, t1, t2, t3 = _session()
    s.record_measurement(t1, _m(30.0))
    table = LesionTable()
    qtbot.addWidget(table)
    table.show_session(s, {})
    said: list[str] = []
    table.message.connect(said.append)
    assert list(_actions(table.lesion_menu(t2), "Merged into")) == [t1]
    none = _actions(table.lesion_menu(t3), "Merged into")
    assert list(none) == ["no other target in lung"] and not none["no other target in lung"].isEnabled()
    asked: list[str] = []
    table.ask = lambda question: asked.append(question) or False
    _actions(table.lesion_menu(t2), "Merged into")[t1].trigger()
    assert asked and asked[0].startswith(f"Is {t1}'s measurement here already of the coalesced lesion")
    assert said == [f"{t2} merged into {t1}: measure {t1} again as the coalesced lesion (its measurement here was "
                    "taken back; RECIST 1.1 sec. 4.3.2)"]
    assert cell_text(s, t1, 1) == "not evaluated" and cell_text(s, t2, 1) == f"merged into {t1}"


def test_cells_give_a_split_lesion_its_sum_and_too_small_its_5_mm(qtbot):
    from workstation.ui.lesion_table import cell_text

    s, t1, _t2, t3 = _session()
    s.record_measurement(t1, _m(34.7))
    s.record_measurement(t1, _m(18.3), add_fragment=True)
    assert cell_text(s, t1, 1) == "53.0 mm = 34.7 mm (hand) + 18.3 mm (hand)"
    s.set_status(t3, LesionStatus.TOO_SMALL)
    assert cell_text(s, t3, 1) == "too small (5 mm)"
