"""The protocol's response settings in ``trial.json`` (``response_settings``): new reads take them, a trial folder
without them keeps the engine's defaults and says so, a saved read made under other settings is left as it is and
named, and a value the engine would refuse (or a misspelt key) stops the folder from opening."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workstation.read_model import Read, ResponseSettings
from workstation.session.worklist import WorklistError, new_read, scan_trial, settings_mismatch


def _trial(root: Path, **extra: Any) -> Path:
    index = {
        "subjects": [
            {
                "subject_id": "SUBJ-001",
                "timepoints": [
                    {"label": "baseline", "date": "2026-01-05", "folder": "SUBJ-001/T0"},
                    {"label": "week 6", "date": "2026-02-16", "folder": "SUBJ-001/T1"},
                ],
            }
        ],
        **extra,
    }
    (root / "trial.json").write_text(json.dumps(index), encoding="utf-8")
    return root


def test_new_reads_take_the_protocols_settings(tmp_path: Path) -> None:
    settings = {"sd_min_days": 35, "confirmation_required": False}
    [subject] = scan_trial(_trial(tmp_path, response_settings=settings))
    assert subject.settings == ResponseSettings(35, False, stated=True)
    read = new_read(subject, "alice")
    assert (read.sd_min_days, read.confirmation_required) == (35, False)
    assert read.to_case()["sd_min_days"] == 35 and read.to_case()["confirmation_required"] is False
    assert "SD >= 35 days" in subject.settings.describe() and "(trial.json)" in subject.settings.describe()


def test_an_older_trial_json_keeps_the_defaults_and_says_so(tmp_path: Path) -> None:
    [subject] = scan_trial(_trial(tmp_path))
    assert subject.settings == ResponseSettings(42, True, stated=False)
    read = new_read(subject, "alice")
    assert (read.sd_min_days, read.confirmation_required) == (42, True)
    assert "defaults: the trial folder states no response_settings" in subject.settings.describe()


def test_a_saved_read_under_other_settings_is_named_and_left_alone(tmp_path: Path) -> None:
    [subject] = scan_trial(_trial(tmp_path, response_settings={"sd_min_days": 35}))
    saved = Read(subject_id="SUBJ-001", reader="alice")  # made before the protocol's settings were stated
    message = settings_mismatch(saved, subject)
    assert message is not None and "SD >= 42 days" in message and "SD >= 35 days" in message
    assert "left as it is" in message and saved.sd_min_days == 42
    assert settings_mismatch(new_read(subject, "alice"), subject) is None
    older = tmp_path / "older"
    older.mkdir()
    [no_settings] = scan_trial(_trial(older))
    assert settings_mismatch(saved, no_settings) is None


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"sd_min_day": 35}, "unknown key(s) sd_min_day"),
        ({"sd_min_days": "35"}, "whole number of days"),
        ({"sd_min_days": -1}, "whole number of days"),
        ({"sd_min_days": True}, "whole number of days"),
        ({"confirmation_required": "yes"}, "true or false"),
        ([35, True], "must be an object"),
    ],
)
def test_settings_the_engine_would_refuse_stop_the_folder(tmp_path: Path, settings: Any, says: str) -> None:
    with pytest.raises(WorklistError, match=r"trial\.json is unreadable") as err:
        scan_trial(_trial(tmp_path, response_settings=settings))
    assert says in str(err.value)


def test_the_trials_protocol_id_is_taken_and_a_bad_one_refused(tmp_path: Path) -> None:
    """``protocol_id`` (what the app's export writes as STUDYID) is read with the subjects; absent, it is None."""
    [subject] = scan_trial(_trial(tmp_path, protocol_id="TIL-PEMBRO-GC-01"))
    assert subject.protocol_id == "TIL-PEMBRO-GC-01"
    [subject] = scan_trial(_trial(tmp_path))
    assert subject.protocol_id is None
    for bad in ("", "  ", 7):
        with pytest.raises(WorklistError, match="protocol_id"):
            scan_trial(_trial(tmp_path, protocol_id=bad))


def test_a_subjects_treatment_start_goes_into_its_reads_and_their_case(tmp_path) -> None:
    """PFS runs from the TIL infusion (the trial record): a read made in the workstation carried no treatment start,
    so PFS from an export counted from the baseline scan while the same case file counted from the infusion."""
    import json
    from datetime import date

    from recist import evaluate_case
    from workstation.export.read_json import read_from_dict, read_to_dict
    from workstation.session.worklist import new_read, reconcile_timepoints, scan_trial

    (tmp_path / "trial.json").write_text(json.dumps({"subjects": [{
        "subject_id": "S1", "treatment_start": "2026-01-09",
        "timepoints": [{"label": "baseline", "date": "2026-01-05", "folder": "S1/T0"}]}]}))
    (subject,) = scan_trial(tmp_path)
    assert subject.treatment_start == date(2026, 1, 9)
    read = new_read(subject, "site1")
    assert read.treatment_start == date(2026, 1, 9) and read.to_case()["treatment_start"] == "2026-01-09"
    assert evaluate_case(read.to_case())["treatment_start"] == "2026-01-09"
    assert read_from_dict(json.loads(json.dumps(read_to_dict(read)))) == read
    older = new_read(subject, "site1")
    older.treatment_start = None  # made before trial.json stated it
    assert reconcile_timepoints(older, subject).treatment_start == date(2026, 1, 9)
