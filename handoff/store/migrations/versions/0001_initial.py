"""Initial schema: conversations, messages, handoff events, agents, agent sessions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("visitor_id", sa.String(64), nullable=False),
        sa.Column("visitor_token_hash", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pool", sa.String(20), nullable=True),
        sa.Column("skill", sa.String(32), nullable=True),
        sa.Column("assigned_agent_id", sa.String(64), nullable=True),
        sa.Column("last_agent_id", sa.String(64), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("offline_email", sa.String(320), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_visitor_id", "conversations", ["visitor_id"])
    op.create_index("ix_conversations_status", "conversations", ["status"])
    op.create_index("ix_conversations_assigned_agent_id", "conversations", ["assigned_agent_id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_kind", sa.String(20), nullable=False),
        sa.Column("sender_id", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=True),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name="fk_messages_conversation_id_conversations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        sa.UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_conversation_id_client_msg_id"),
    )

    op.create_table(
        "handoff_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name="fk_handoff_events_conversation_id_conversations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_events"),
    )
    op.create_index("ix_handoff_events_conversation_id_id", "handoff_events", ["conversation_id", "id"])

    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("username", name="uq_agents_username"),
    )

    op.create_table(
        "agent_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name="fk_agent_sessions_agent_id_agents", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_agent_sessions"),
    )
    op.create_index("ix_agent_sessions_agent_id", "agent_sessions", ["agent_id"])


def downgrade() -> None:
    op.drop_table("agent_sessions")
    op.drop_table("agents")
    op.drop_table("handoff_events")
    op.drop_table("messages")
    op.drop_table("conversations")
