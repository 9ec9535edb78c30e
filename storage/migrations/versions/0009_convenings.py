"""convenings: a convening under way, recorded before its room is made, so a crash is finished or undone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'convenings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_key', sa.String(length=64), nullable=False),
        sa.Column('convener_id', sa.String(length=32), nullable=False),
        sa.Column('prefix', sa.String(length=20), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('room_id', sa.String(length=32), nullable=True),
        sa.Column('room_name', sa.String(length=80), nullable=True),
        sa.Column('header_ref', sa.String(length=40), nullable=True),
        sa.Column('board_ref', sa.String(length=40), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('convener_told', sa.Boolean(), nullable=False),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('touched_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_convenings_state_touched', 'convenings', ['state', 'touched_at'])
    op.create_index('ix_convenings_submission_key', 'convenings', ['submission_key'])
    op.create_index('ix_convenings_room_id', 'convenings', ['room_id'])


def downgrade() -> None:
    op.drop_table('convenings')
