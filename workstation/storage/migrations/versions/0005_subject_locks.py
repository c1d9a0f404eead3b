"""Subjects locked for analysis (the trial data manager's database lock): no read of a locked subject is saved,
signed or deleted, and it is not enrolled or adjudicated in central review, until a data manager unlocks it.

Revision ID: 0005_subject_locks
Revises: 0004_assessment_point
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_subject_locks"
down_revision = "0004_assessment_point"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_locks",
        sa.Column("subject_id", sa.String(64), primary_key=True),
        sa.Column("locked_by", sa.String(64), nullable=False),
        sa.Column("locked_at", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        # what was still open when locked anyway (--incomplete), "" for final data
        sa.Column("not_final", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    raise NotImplementedError("not downgraded: the subjects locked for analysis would be unlocked unrecorded")
