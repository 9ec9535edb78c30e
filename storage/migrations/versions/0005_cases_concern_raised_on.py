"""cases.concern_raised_on: when the concern was first raised, for the concern-to-call figure

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: cases convened before this column, and forms left blank, count from convening.
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('concern_raised_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('concern_raised_on')
