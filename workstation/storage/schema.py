"""The database tables (SQLAlchemy Core). The Alembic migrations under ``migrations/`` create exactly these.

Reads are stored normalised (read -> lesions, timepoints -> assessments -> measurements) so that every field of the
domain model, measurement provenance and end points included, is a column that other tools can query. End points are
JSON arrays of patient-mm coordinates (Python's float repr, so they round-trip exactly).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("full_name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(64), nullable=False),
)

reads = Table(
    "reads",
    metadata,
    Column("read_id", String(64), primary_key=True),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("reader", String(64), nullable=False),
    Column("reader_role", String(32), nullable=False),
    Column("criteria", String(32), nullable=False),
    Column("confirmation_required", Boolean, nullable=False),
    Column("sd_min_days", Integer, nullable=False),
    Column("treatment_start", Date),  # PFS's origin (trial.json, a case file); None: the baseline scan (0003)
    #: Optimistic locking: every save increments it and is refused if the row changed since it was loaded.
    Column("version", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("updated_by", String(64), nullable=False),
)

lesions = Table(
    "lesions",
    metadata,
    Column("read_id", String(64), primary_key=True),
    Column("lesion_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Column("organ", String(100), nullable=False),
    Column("is_node", Boolean, nullable=False),
    Column("location", String(200), nullable=False),
    Column("tracking_uid", String(64), nullable=False),
    Column("first_timepoint", Integer, nullable=False),
    ForeignKeyConstraint(["read_id"], ["reads.read_id"], ondelete="CASCADE"),
)

timepoints = Table(
    "timepoints",
    metadata,
    Column("read_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("label", String(100), nullable=False),
    Column("date", Date, nullable=False),
    Column("study_uid", String(64), nullable=False),
    Column("series_uid", String(64), nullable=False),
    Column("signed_by", String(64)),
    Column("signer_full_name", String(200)),
    Column("signed_at", String(40)),
    Column("signature_meaning", Text),
    ForeignKeyConstraint(["read_id"], ["reads.read_id"], ondelete="CASCADE"),
)

assessments = Table(
    "assessments",
    metadata,
    Column("read_id", String(64), primary_key=True),
    Column("timepoint", Integer, primary_key=True),
    Column("lesion_id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("merged_into", String(64)),
    Column("comment", Text, nullable=False),
    Column("point_mm", Text),  # JSON [x, y, z]: where an unmeasured lesion was seen (0004)
    ForeignKeyConstraint(["read_id", "timepoint"], ["timepoints.read_id", "timepoints.position"], ondelete="CASCADE"),
)

measurements = Table(
    "measurements",
    metadata,
    Column("read_id", String(64), primary_key=True),
    Column("timepoint", Integer, primary_key=True),
    Column("lesion_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("long_axis_mm", Float),  # None: a lymph node given by its short axis alone (0002)
    Column("short_axis_mm", Float),
    Column("long_axis_endpoints", Text),
    Column("short_axis_endpoints", Text),
    Column("series_uid", String(64), nullable=False),
    Column("sop_instance_uid", String(64), nullable=False),
    Column("frame_of_reference_uid", String(64), nullable=False),
    Column("slice_position_mm", Float),
    Column("volume_ml", Float),
    Column("origin", String(16), nullable=False),
    Column("engine", String(100)),
    Column("model_id", String(200)),
    Column("model_version", String(100)),
    Column("mask_ref", String(200)),
    ForeignKeyConstraint(
        ["read_id", "timepoint", "lesion_id"],
        ["assessments.read_id", "assessments.timepoint", "assessments.lesion_id"],
        ondelete="CASCADE",
    ),
)

#: Append-only (database triggers refuse UPDATE and DELETE); each entry hashes the previous one.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", String(40), nullable=False),
    Column("username", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity", Text, nullable=False),
    Column("subject_id", String(64), nullable=False, index=True),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("reason", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

#: One row: the chain's last entry. Appending locks it (SELECT ... FOR UPDATE on PostgreSQL) so the chain never forks,
#: and `verify` compares it with the last entry so a deleted tail is found too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

review_subjects = Table(
    "review_subjects",
    metadata,
    Column("pseudonym", String(32), primary_key=True),
    Column("subject_id", String(64), nullable=False, unique=True),
    Column("baseline_date", Date, nullable=False),
    Column("reader_1", String(64), nullable=False),
    Column("reader_2", String(64), nullable=False),
    Column("read_1_id", String(64)),
    Column("read_2_id", String(64)),
    Column("enrolled_by", String(64), nullable=False),
    Column("enrolled_at", String(40), nullable=False),
)

review_timepoints = Table(
    "review_timepoints",
    metadata,
    Column("pseudonym", String(32), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("study_day", Integer, nullable=False),
    Column("study_uid", String(64), nullable=False),
    Column("series_uid", String(64), nullable=False),
    ForeignKeyConstraint(["pseudonym"], ["review_subjects.pseudonym"], ondelete="CASCADE"),
)

adjudications = Table(
    "adjudications",
    metadata,
    Column("pseudonym", String(32), primary_key=True),
    Column("adjudicator", String(64), nullable=False),
    Column("chosen_read_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_at", String(40), nullable=False),
    ForeignKeyConstraint(["pseudonym"], ["review_subjects.pseudonym"], ondelete="CASCADE"),
)

#: Subjects locked for analysis (the data manager's database lock, 0005): nothing of theirs changes until unlocked.
subject_locks = Table(
    "subject_locks",
    metadata,
    Column("subject_id", String(64), primary_key=True),  # the real subject id, never a central-review pseudonym
    Column("locked_by", String(64), nullable=False),
    Column("locked_at", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("not_final", Text, nullable=False, server_default=""),  # what was open when locked anyway; "" if final
)
