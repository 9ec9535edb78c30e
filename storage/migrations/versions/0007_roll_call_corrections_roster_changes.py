"""roll_call_corrections (the chair's corrections after the call, with reasons) and roster_changes (roster history)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('roll_call_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('corrected_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('roll_call_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_call_corrections_case_id'), ['case_id'], unique=False)

    op.create_table('roster_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('roles_added', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('roles_removed', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('professions_added', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('professions_removed', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('roster_changes', schema=None) as batch_op:
        batch_op.create_index('ix_roster_changes_at', ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_changes_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('roster_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_changes_user_id'))
        batch_op.drop_index('ix_roster_changes_at')
    op.drop_table('roster_changes')
    with op.batch_alter_table('roll_call_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roll_call_corrections_case_id'))
    op.drop_table('roll_call_corrections')
