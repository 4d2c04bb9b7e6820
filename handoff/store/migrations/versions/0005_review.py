"""The maintainers' review: messages agents flagged, the labels given to them, and an
index on when messages were written (the review reads them by period).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name="fk_review_flags_conversation_id_conversations"),
        sa.PrimaryKeyConstraint("id", name="pk_review_flags"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_review_flags_conversation_id_seq"),
    )
    op.create_table(
        "review_labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("candidate", sa.String(64), nullable=True),
        sa.Column("entities", sa.JSON, nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("labelled_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name="fk_review_labels_conversation_id_conversations"),
        sa.PrimaryKeyConstraint("id", name="pk_review_labels"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_review_labels_conversation_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("review_labels")
    op.drop_table("review_flags")
    op.drop_index("ix_messages_created_at", table_name="messages")
