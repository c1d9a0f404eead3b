"""Any valid read survives the database unchanged (property test on SQLite and PostgreSQL), and impossible reads
are refused with a message that names the subject, timepoint and lesion."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.services import postgres_server as pg
from tests.services.postgres_server import make_read, make_users
from workstation.read_model import (
    Lesion,
    LesionAssessment,
    LesionStatus,
    Measurement,
    MeasurementOrigin,
    Read,
    Role,
    Signature,
    TimepointRead,
)
from workstation.storage import open_database
from workstation.storage.repository import ReadError, load_read, save_read

fast_password_hashing, postgres_server = pg.fast_password_hashing, pg.postgres_server

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
uid = st.from_regex(r"\A[12](\.[1-9][0-9]{0,8}){2,6}\Z")
mm = st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False)
coordinate = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
point = st.tuples(coordinate, coordinate, coordinate)
endpoints = st.none() | st.tuples(point, point)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    long_axis = draw(mm)
    short_axis = draw(st.none() | st.floats(min_value=0.0, max_value=long_axis))
    return Measurement(
        long_axis_mm=long_axis,
        short_axis_mm=short_axis,
        long_axis_endpoints=draw(endpoints),
        short_axis_endpoints=draw(endpoints),
        series_uid=draw(uid),
        sop_instance_uid=draw(uid),
        frame_of_reference_uid=draw(uid),
        slice_position_mm=draw(st.none() | coordinate),
        volume_ml=draw(st.none() | mm),
        origin=draw(st.sampled_from(MeasurementOrigin)),
        engine=draw(st.none() | text),
        model_id=draw(st.none() | text),
        model_version=draw(st.none() | text),
        mask_ref=draw(st.none() | text),
    )


@st.composite
def reads(draw: st.DrawFn) -> Read:
    ids = draw(st.lists(text.filter(bool), max_size=6, unique=True))
    read = Read(
        subject_id=draw(text.filter(bool)),
        reader="site1",
        criteria=draw(st.sampled_from(["RECIST 1.1", "iRECIST"])),
        confirmation_required=draw(st.booleans()),
        sd_min_days=draw(st.integers(0, 400)),
    )
    for lesion_id in ids:
        read.lesions[lesion_id] = Lesion(
            lesion_id,
            draw(st.sampled_from(Role)),
            draw(text),
            draw(st.booleans()),
            draw(text),
            draw(uid),
            draw(st.integers(0, 5)),
        )
    labels = draw(st.lists(text, max_size=4, unique=True))
    for label in labels:
        tp = TimepointRead(label, draw(st.dates(date(1990, 1, 1), date(2100, 1, 1))), draw(uid), draw(uid))
        for lesion_id in draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []:
            status = draw(st.sampled_from(LesionStatus))
            tp.assessments[lesion_id] = LesionAssessment(
                status,
                draw(st.lists(measurements(), max_size=3)),
                draw(st.sampled_from(ids)) if status is LesionStatus.MERGED else draw(st.none() | st.sampled_from(ids)),
                draw(text),
            )
        read.timepoints.append(tp)
    return read


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('roundtrip') / 'workstation.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    db = open_database(url)
    make_users(db)  # saves are made by an active account
    yield db
    db.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(read=reads())
def test_any_valid_read_round_trips_exactly(database, read: Read) -> None:
    from workstation.users import User, UserRole

    user = User("site1", "Sam Site", UserRole.SITE_READER)
    # one database for every example: each its own subject (a reader has one read per subject and criteria)
    read.subject_id = f"{read.subject_id[:40]}~{read.read_id[:12]}"
    save_read(database, read, user=user, expected_version=None)
    loaded = load_read(database, read.read_id).read
    assert loaded == read
    assert list(loaded.lesions) == list(read.lesions)  # declaration order matters to the case file


def _refused(db, read: Read, pattern: str, people) -> None:
    with pytest.raises(ReadError, match=pattern):
        save_read(db, read, user=people["site1"], expected_version=None)


@pytest.mark.parametrize(
    ("spoil", "pattern"),
    [
        (
            lambda r: setattr(r.timepoints[1].assessments["T1"].measurements[0], "long_axis_mm", -3.0),
            r"subject SITE01-0042, timepoint 'TP1', lesion T1: a negative diameter",
        ),
        (
            lambda r: setattr(r.timepoints[0].assessments["T1"].measurements[0], "long_axis_mm", math.nan),
            r"timepoint 'TP0', lesion T1: a measurement is not a finite number",
        ),
        (
            lambda r: setattr(r.timepoints[0].assessments["T2"].measurements[0], "short_axis_mm", 40.0),
            r"lesion T2: the short axis \(40.0 mm\) is longer than the long axis \(25.0 mm\)",
        ),
        (
            lambda r: r.timepoints[0].assessments.__setitem__("T9", LesionAssessment(LesionStatus.PRESENT)),
            r"timepoint 'TP0', lesion T9: the lesion is not declared",
        ),
        (
            lambda r: r.timepoints[0].assessments.__setitem__("T1", LesionAssessment(LesionStatus.MERGED)),
            r"lesion T1: merged into None",
        ),
        (lambda r: setattr(r.timepoints[1], "label", "TP0"), r"two timepoints are labelled 'TP0'"),
        (lambda r: setattr(r.lesions["T1"], "organ", "x" * 101), r"lesion organ 'x+'... is longer than 100"),
        (lambda r: setattr(r.lesions["T1"], "location", "a\x00b"), r"lesion location holds a NUL character"),
    ],
)
def test_an_impossible_read_is_refused_saying_where(tmp_path: Path, spoil, pattern: str) -> None:
    db = open_database(str(tmp_path / "w.db"))
    people = make_users(db)
    read = make_read()
    spoil(read)
    _refused(db, read, pattern, people)
    db.close()


def test_a_signature_survives_the_round_trip_field_by_field(tmp_path: Path) -> None:
    from workstation.storage.codec import child_rows, read_from_rows, read_row

    read = make_read()
    read.timepoints[0].signature = Signature("site1", "Sam Site", "2026-01-05T10:00:00.000001Z", "I confirm")
    rows = child_rows(read)
    back = read_from_rows(
        read_row(read), rows["lesions"], rows["timepoints"], rows["assessments"], rows["measurements"]
    )
    assert back == read
