"""deliveries: the ledger of what the bot delivered, one row per recipient

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scheduled_message_id', sa.Integer(), nullable=True),
        sa.Column('key', sa.String(length=200), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('recipient', sa.String(length=255), nullable=False),
        sa.Column('room', sa.String(length=255), nullable=True),
        sa.Column('ref', sa.String(length=255), nullable=True),
        sa.Column('is_file', sa.Boolean(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('detail', sa.Text(), server_default='{}', nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['scheduled_message_id'], ['scheduled_messages.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scheduled_message_id', 'key', name='uq_deliveries_message_key'),
    )
    op.create_index('ix_deliveries_recipient', 'deliveries', ['recipient', 'kind'])
    op.create_index('ix_deliveries_room_ref', 'deliveries', ['room', 'ref'])
    op.create_index('ix_deliveries_case_id', 'deliveries', ['case_id'])
    op.create_index('ix_deliveries_scheduled_message_id', 'deliveries', ['scheduled_message_id'])


def downgrade() -> None:
    op.drop_table('deliveries')
