"""A measurement's long axis may be empty: a lymph node given by its short axis alone (an engine case file gives a
node's RECIST diameter, its short axis, and nothing else; the long axis used to be filled in with the short one).

Revision ID: 0002_node_short_axis_only
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_node_short_axis_only"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.alter_column("long_axis_mm", existing_type=sa.Float, nullable=True)


def downgrade() -> None:
    raise NotImplementedError("not downgraded: a node's missing long axis cannot be put back")
