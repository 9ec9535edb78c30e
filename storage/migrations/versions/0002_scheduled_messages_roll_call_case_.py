"""scheduled messages, roll-call, case schedule version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:34:52.276653
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('roll_call_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('capacity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('deputy_for', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('marked_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'user_id', name='uq_roll_call_case_user')
    )
    with op.batch_alter_table('roll_call_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_call_marks_case_id'), ['case_id'], unique=False)

    op.create_table('scheduled_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('collapse_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('claimed_until', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('detail', sa.Text(), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('scheduled_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_messages_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scheduled_messages_collapse_key'), ['collapse_key'], unique=False)
        batch_op.create_index('ix_scheduled_messages_due', ['state', 'due_at'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('roll_call_ref', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('quorate', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('quorum_reason', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('quorum_reason')
        batch_op.drop_column('quorate')
        batch_op.drop_column('roll_call_ref')
        batch_op.drop_column('schedule_version')

    with op.batch_alter_table('scheduled_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_messages_due')
        batch_op.drop_index(batch_op.f('ix_scheduled_messages_collapse_key'))
        batch_op.drop_index(batch_op.f('ix_scheduled_messages_case_id'))

    op.drop_table('scheduled_messages')
    with op.batch_alter_table('roll_call_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roll_call_marks_case_id'))

    op.drop_table('roll_call_marks')
