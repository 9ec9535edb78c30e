"""outcomes, fairness answers, action points, case closure

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:01:36.203451
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('action_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('principle', sa.String(length=30), nullable=True),
    sa.Column('drop_reason', sa.Text(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'number', name='uq_action_points_case_number')
    )
    with op.batch_alter_table('action_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_points_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_action_points_owner_status', ['owner_id', 'status'], unique=False)

    op.create_table('fairness_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('principle', sa.String(length=30), nullable=False),
    sa.Column('answer', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('answered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fairness_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fairness_answers_case_id'), ['case_id'], unique=False)

    op.create_table('outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('process', sa.String(length=30), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('risk_level', sa.String(length=20), nullable=False),
    sa.Column('risk_notes', sa.Text(), server_default='', nullable=False),
    sa.Column('ml_policy_notify', sa.String(length=10), nullable=False),
    sa.Column('legal_advice', sa.String(length=10), nullable=False),
    sa.Column('welfare_offered', sa.String(length=10), nullable=False),
    sa.Column('line_manager_support', sa.Text(), server_default='', nullable=False),
    sa.Column('quorate', sa.Boolean(), nullable=True),
    sa.Column('quorum_statement', sa.Text(), nullable=True),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('circulated_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    op.create_table('action_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), server_default='', nullable=False),
    sa.Column('old_due', sa.Date(), nullable=True),
    sa.Column('new_due', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['action_points.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('action_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_updates_action_id'), ['action_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('close_reason', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('close_reason')
        batch_op.drop_column('closed_at')

    with op.batch_alter_table('action_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_updates_action_id'))

    op.drop_table('action_updates')
    op.drop_table('outcomes')
    with op.batch_alter_table('fairness_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fairness_answers_case_id'))

    op.drop_table('fairness_answers')
    with op.batch_alter_table('action_points', schema=None) as batch_op:
        batch_op.drop_index('ix_action_points_owner_status')
        batch_op.drop_index(batch_op.f('ix_action_points_case_id'))

    op.drop_table('action_points')
