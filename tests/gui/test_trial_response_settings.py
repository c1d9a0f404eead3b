"""A trial folder's ``trial.json`` states the protocol's response settings: the app's new site reads take them, and a
saved read made under other settings is left as it is, with a warning the reader sees."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dicom.ct_writer import write_ct_series
from workstation.read_model import Read, TimepointRead
from workstation.session.worklist import scan_trial

DATES = ("2026-01-05", "2026-02-16")


def _trial(root: Path) -> Path:
    subjects = []
    for n, subject in enumerate(("S1", "S2")):
        timepoints = []
        for t, when in enumerate(DATES):
            folder = f"{subject}/tp{t}"
            write_ct_series(
                root / folder,
                n=4,
                rows=16,
                columns=16,
                seed=10 * n + t,
                patient={"id": subject, "name": f"DOE^{subject}", "study_date": when.replace("-", "")},
            )
            timepoints.append({"label": f"tp{t}", "date": when, "folder": folder})
        subjects.append({"subject_id": subject, "timepoints": timepoints})
    index = {"subjects": subjects, "response_settings": {"sd_min_days": 35, "confirmation_required": True}}
    (root / "trial.json").write_text(json.dumps(index))
    return root


def test_site_reads_opened_from_a_trial_folder_use_its_response_settings(qtbot, window, tmp_path):
    w = window
    trial = _trial(tmp_path / "trial")
    # S2 was read before the protocol's settings were written into trial.json: made with the engine's defaults
    [_, s2] = scan_trial(trial)
    old = Read(subject_id="S2", reader="tester", timepoints=[TimepointRead(t.label, t.date) for t in s2.timepoints])
    w.store.save(old)
    warnings: list[str] = []
    w.warn = lambda title, message, timeout_ms=0: warnings.append(message)  # type: ignore[method-assign]

    assert w.open_folder(trial)
    assert w.session is not None and w.session.read.subject_id == "S1"
    assert (w.session.read.sd_min_days, w.session.read.confirmation_required) == (35, True)
    assert w.session.read.to_case()["sd_min_days"] == 35
    assert not warnings

    w.open_timepoint(1, 0)
    assert w.session.read.subject_id == "S2" and w.session.read.sd_min_days == 42  # left as it is
    assert len(warnings) == 1 and "S2: this read was created with SD >= 42 days" in warnings[0]
    assert "SD >= 35 days" in warnings[0] and "left as it is" in warnings[0]
    assert w.store.load("S2", "tester").sd_min_days == 42
