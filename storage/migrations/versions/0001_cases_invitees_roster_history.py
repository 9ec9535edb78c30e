"""cases, invitees, roster, history

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:23:14.365237
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('profession', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('concern', sa.Text(), nullable=False),
    sa.Column('risks', sa.Text(), nullable=False),
    sa.Column('call_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('call_details', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('short_notice', sa.Boolean(), nullable=False),
    sa.Column('convener_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('room_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('room_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('header_ref', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('board_ref', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('convene_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('convene_key'),
    sa.UniqueConstraint('prefix', 'year', 'seq', name='uq_cases_prefix_year_seq'),
    sa.UniqueConstraint('reference')
    )
    op.create_table('reference_counters',
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year')
    )
    op.create_table('roster_members',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('roles', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('professions', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('detail', sa.Text(), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('invitees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('seat', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('seat_label', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reply', sa.String(length=20), nullable=False),
    sa.Column('deputy_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('replied_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seat', name='uq_invitees_case_seat')
    )
    with op.batch_alter_table('invitees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitees_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_invitees_user', ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('invitees', schema=None) as batch_op:
        batch_op.drop_index('ix_invitees_user')
        batch_op.drop_index(batch_op.f('ix_invitees_case_id'))

    op.drop_table('invitees')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    op.drop_table('roster_members')
    op.drop_table('reference_counters')
    op.drop_table('cases')
