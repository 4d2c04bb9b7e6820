"""The offline messages' inbox, and the indexes of the history's search.

`offline_messages`: one row per message a visitor left when nobody could answer
(its text stays in `messages`), with its state in the advisors' inbox. Messages
left before this revision are filed as open. Indexes on what the history filters
and sorts on: when a conversation started, its last agent, its topic, and the
conversations an agent accepted or claimed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index("ix_conversations_last_agent_id", "conversations", ["last_agent_id"])
    op.create_index("ix_conversations_skill", "conversations", ["skill"])
    op.create_index("ix_handoff_events_agent_id_type", "handoff_events", ["agent_id", "type"])
    inbox = op.create_table(
        "offline_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assigned_agent_id", sa.String(64), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_seq", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name="fk_offline_messages_conversation_id_conversations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offline_messages"),
    )
    op.create_index("ix_offline_messages_conversation_id", "offline_messages", ["conversation_id"])
    op.create_index("ix_offline_messages_status_id", "offline_messages", ["status", "id"])
    _file_earlier_messages(inbox)


def _file_earlier_messages(inbox: sa.Table) -> None:
    """The offline messages already stored (visitor messages marked `offline_message`), as open."""
    bind = op.get_bind()
    events = sa.table("handoff_events", sa.column("conversation_id", sa.String), sa.column("type", sa.String))
    messages = sa.table(
        "messages", sa.column("conversation_id", sa.String), sa.column("seq", sa.Integer),
        sa.column("sender_kind", sa.String), sa.column("data", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
    )
    with_offline = sa.select(events.c.conversation_id).where(events.c.type == "offline_message").distinct()
    rows = bind.execute(
        sa.select(messages.c.conversation_id, messages.c.seq, messages.c.data, messages.c.created_at)
        .where(messages.c.sender_kind == "visitor", messages.c.conversation_id.in_(with_offline))
        .order_by(messages.c.created_at)
    ).all()
    filed = [
        {"conversation_id": row.conversation_id, "seq": row.seq, "status": "open", "created_at": row.created_at}
        for row in rows
        if isinstance(row.data, dict) and row.data.get("offline_message")
    ]
    if filed:
        op.bulk_insert(inbox, filed)


def downgrade() -> None:
    op.drop_index("ix_offline_messages_status_id", table_name="offline_messages")
    op.drop_index("ix_offline_messages_conversation_id", table_name="offline_messages")
    op.drop_table("offline_messages")
    op.drop_index("ix_handoff_events_agent_id_type", table_name="handoff_events")
    op.drop_index("ix_conversations_skill", table_name="conversations")
    op.drop_index("ix_conversations_last_agent_id", table_name="conversations")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
