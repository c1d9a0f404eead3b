"""Where the reader saw a lesion not measured at a timepoint (a non-target, a new lesion declared without a
measurement), so that the follow-up proposes it there; empty for assessments written before.

Revision ID: 0004_assessment_point
Revises: 0003_treatment_start
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_assessment_point"
down_revision = "0003_treatment_start"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("point_mm", sa.Text, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("not downgraded: where unmeasured lesions were seen would be lost")
