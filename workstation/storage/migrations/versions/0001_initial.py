"""Initial schema: users, reads (lesions, timepoints, assessments, measurements), audit trail, central review.

Revision ID: 0001_initial
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_log_no_{verb} BEFORE {VERB} ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
"""

_APPEND_ONLY_POSTGRES = [
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "reads",
        sa.Column("read_id", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(64), nullable=False, index=True),
        sa.Column("reader", sa.String(64), nullable=False),
        sa.Column("reader_role", sa.String(32), nullable=False),
        sa.Column("criteria", sa.String(32), nullable=False),
        sa.Column("confirmation_required", sa.Boolean, nullable=False),
        sa.Column("sd_min_days", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "lesions",
        sa.Column("read_id", sa.String(64), primary_key=True),
        sa.Column("lesion_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("organ", sa.String(100), nullable=False),
        sa.Column("is_node", sa.Boolean, nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("tracking_uid", sa.String(64), nullable=False),
        sa.Column("first_timepoint", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["read_id"], ["reads.read_id"], ondelete="CASCADE"),
    )
    op.create_table(
        "timepoints",
        sa.Column("read_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("signed_by", sa.String(64)),
        sa.Column("signer_full_name", sa.String(200)),
        sa.Column("signed_at", sa.String(40)),
        sa.Column("signature_meaning", sa.Text),
        sa.ForeignKeyConstraint(["read_id"], ["reads.read_id"], ondelete="CASCADE"),
    )
    op.create_table(
        "assessments",
        sa.Column("read_id", sa.String(64), primary_key=True),
        sa.Column("timepoint", sa.Integer, primary_key=True),
        sa.Column("lesion_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("merged_into", sa.String(64)),
        sa.Column("comment", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["read_id", "timepoint"], ["timepoints.read_id", "timepoints.position"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "measurements",
        sa.Column("read_id", sa.String(64), primary_key=True),
        sa.Column("timepoint", sa.Integer, primary_key=True),
        sa.Column("lesion_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("long_axis_mm", sa.Float, nullable=False),
        sa.Column("short_axis_mm", sa.Float),
        sa.Column("long_axis_endpoints", sa.Text),
        sa.Column("short_axis_endpoints", sa.Text),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("frame_of_reference_uid", sa.String(64), nullable=False),
        sa.Column("slice_position_mm", sa.Float),
        sa.Column("volume_ml", sa.Float),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("engine", sa.String(100)),
        sa.Column("model_id", sa.String(200)),
        sa.Column("model_version", sa.String(100)),
        sa.Column("mask_ref", sa.String(200)),
        sa.ForeignKeyConstraint(
            ["read_id", "timepoint", "lesion_id"],
            ["assessments.read_id", "assessments.timepoint", "assessments.lesion_id"],
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False, index=True),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)").bindparams(h="0" * 64))
    op.create_table(
        "review_subjects",
        sa.Column("pseudonym", sa.String(32), primary_key=True),
        sa.Column("subject_id", sa.String(64), nullable=False, unique=True),
        sa.Column("baseline_date", sa.Date, nullable=False),
        sa.Column("reader_1", sa.String(64), nullable=False),
        sa.Column("reader_2", sa.String(64), nullable=False),
        sa.Column("read_1_id", sa.String(64)),
        sa.Column("read_2_id", sa.String(64)),
        sa.Column("enrolled_by", sa.String(64), nullable=False),
        sa.Column("enrolled_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "review_timepoints",
        sa.Column("pseudonym", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("study_day", sa.Integer, nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["pseudonym"], ["review_subjects.pseudonym"], ondelete="CASCADE"),
    )
    op.create_table(
        "adjudications",
        sa.Column("pseudonym", sa.String(32), primary_key=True),
        sa.Column("adjudicator", sa.String(64), nullable=False),
        sa.Column("chosen_read_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["pseudonym"], ["review_subjects.pseudonym"], ondelete="CASCADE"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(_APPEND_ONLY_SQLITE.format(verb=verb, VERB=verb.upper()))
    elif dialect == "postgresql":
        for statement in _APPEND_ONLY_POSTGRES:
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the initial schema is not downgraded: the audit trail must never be dropped")
