"""opaque ids: user, room and message id columns widened to 255, so a Teams id (29:…, 19:…@thread.v2) fits

Slack's ids fit in 32 characters; Microsoft Teams' user, conversation and activity ids are longer. The domain
and storage treat every id as an opaque string (issue 15, rule 3). SQLite does not enforce VARCHAR lengths but
the model does, so both backends are altered (SQLite in batch mode, which rebuilds each table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
KEY = 400  # keys that carry an id inside them (the recipient's, the room's)

# table -> (column, old length, new length, nullable)
COLUMNS: dict[str, list[tuple[str, int, int, bool]]] = {
    'cases': [('convener_id', 32, ID, False), ('room_id', 32, ID, False), ('header_ref', 40, ID, True),
              ('board_ref', 40, ID, True), ('roll_call_ref', 40, ID, True)],
    'forms': [('user_id', 32, ID, False), ('view_id', 64, ID, True)],
    'roster_changes': [('actor_id', 32, ID, False), ('user_id', 32, ID, False)],
    'roster_members': [('user_id', 32, ID, False), ('updated_by', 32, ID, False)],
    'action_points': [('owner_id', 32, ID, False), ('created_by', 32, ID, False)],
    'case_events': [('actor_id', 32, ID, False)],
    'convenings': [('convener_id', 32, ID, False), ('room_id', 32, ID, True), ('header_ref', 40, ID, True),
                   ('board_ref', 40, ID, True)],
    'fairness_answers': [('answered_by', 32, ID, False)],
    'invitees': [('user_id', 32, ID, False), ('deputy_id', 32, ID, True)],
    'outcomes': [('recorded_by', 32, ID, False)],
    'roll_call_corrections': [('user_id', 32, ID, False), ('corrected_by', 32, ID, False)],
    'roll_call_marks': [('user_id', 32, ID, False), ('deputy_for', 32, ID, True), ('marked_by', 32, ID, False)],
    'scheduled_messages': [('recipient', 32, ID, False), ('idempotency_key', 200, KEY, False),
                           ('collapse_key', 200, KEY, True)],
    'action_updates': [('actor_id', 32, ID, False)],
    'deliveries': [('key', 200, KEY, True)],
}


def _alter(widen: bool) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, old, new, nullable in columns:
                batch.alter_column(name, existing_type=sa.String(length=old if widen else new),
                                   type_=sa.String(length=new if widen else old), existing_nullable=nullable)


def upgrade() -> None:
    _alter(widen=True)


def downgrade() -> None:
    # Narrowing fails (PostgreSQL) rather than truncate an id that no longer fits: nothing is cut silently.
    _alter(widen=False)
