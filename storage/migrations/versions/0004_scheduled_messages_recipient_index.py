"""index scheduled messages by recipient (a person's waiting digest: found without a scan)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Planning an owner's next reminder looks up their waiting digest; without this index each lookup
    # read every pending row (bench/: the tick grew with the number of open action points).
    op.create_index('ix_scheduled_messages_recipient', 'scheduled_messages', ['recipient', 'kind', 'state'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_scheduled_messages_recipient', table_name='scheduled_messages')
