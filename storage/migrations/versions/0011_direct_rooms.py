"""direct rooms: each person's direct conversation with the bot, kept where a platform needs one made (Teams)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'direct_rooms',
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('room', sa.String(length=255), nullable=False),
        sa.Column('service_url', sa.String(length=400), nullable=False),
        sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade() -> None:
    op.drop_table('direct_rooms')
