"""A read's treatment start (the TIL infusion), the origin of PFS: from trial.json or a case file; empty means the
baseline scan, as before.

Revision ID: 0003_treatment_start
Revises: 0002_node_short_axis_only
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_treatment_start"
down_revision = "0002_node_short_axis_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reads") as batch:
        batch.add_column(sa.Column("treatment_start", sa.Date, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("not downgraded: a read's treatment start would be lost")
