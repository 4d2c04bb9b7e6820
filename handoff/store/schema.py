"""The durable schema: conversations, their transcript, handoff events, agents and
their sessions, as SQLAlchemy Core tables.

`review_flags` and `review_labels` hold the maintainers' review (migration 0004,
docs/maintainers.md).

The Alembic migrations in `migrations/versions/` create exactly these tables;
`tests/store/test_migrations.py` checks that the two never drift apart.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

ID_LENGTH = 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("visitor_id", String(ID_LENGTH), nullable=False, index=True),
    Column("visitor_token_hash", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("page_url", Text, nullable=True),
    Column("status", String(20), nullable=False, index=True),
    Column("pool", String(20), nullable=True),
    Column("skill", String(32), nullable=True),
    Column("assigned_agent_id", String(ID_LENGTH), nullable=True, index=True),
    Column("last_agent_id", String(ID_LENGTH), nullable=True),
    Column("rating", Integer, nullable=True),
    Column("rating_comment", Text, nullable=True),
    Column("outcome", String(64), nullable=True),
    Column("offline_email", String(320), nullable=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("brand", String(32), nullable=False, server_default="default"),
    # Migration 0006: what the history's search filters and sorts on.
    Index(None, "created_at"),
    Index(None, "last_agent_id"),
    Index(None, "skill"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sender_kind", String(20), nullable=False),
    Column("sender_id", String(ID_LENGTH), nullable=True),
    Column("text", Text, nullable=False),
    Column("client_msg_id", String(ID_LENGTH), nullable=True),
    Column("intent", String(64), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("data", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "seq"),
    # NULL client_msg_ids never collide (SQL NULL semantics), given ones are unique per conversation.
    UniqueConstraint("conversation_id", "client_msg_id"),
    Index(None, "created_at"),  # migration 0004: the review and its weekly counts read by period
)

handoff_events = Table(
    "handoff_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("agent_id", String(ID_LENGTH), nullable=True),
    Column("data", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "conversation_id", "id"),
    Index(None, "agent_id", "type"),  # migration 0006: the conversations an agent took (history)
)

# Migration 0006: the offline messages' inbox. One row per message a visitor left
# when nobody could answer (the text stays in `messages`, at `seq`); its state in
# the advisors' inbox, and the transcript entry of the answer sent by email.
offline_messages = Table(
    "offline_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("seq", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # open | answered | done
    Column("assigned_agent_id", String(ID_LENGTH), nullable=True),
    Column("answered_by", String(ID_LENGTH), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("answer_seq", Integer, nullable=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "status", "id"),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("languages", JSON, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # migration 0004; false: deactivated by an admin (cannot log in; sessions ended)
    Column("active", Boolean, nullable=False, server_default=true()),
)

agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", String(ID_LENGTH), ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=True),  # migration 0003; null: never since login
)

review_flags = Table(
    "review_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("agent_id", String(ID_LENGTH), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "seq"),
)

review_labels = Table(
    "review_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # the message the maintainer labelled; its group's other messages are in `members`
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("language", String(8), nullable=False),
    Column("text", Text, nullable=False),
    Column("action", String(20), nullable=False),  # "intent" | "candidate"
    Column("intent", String(64), nullable=True),
    Column("candidate", String(64), nullable=True),
    Column("entities", JSON, nullable=False, default=list),  # [{"start", "end"}] product_category spans
    Column("members", JSON, nullable=False, default=list),  # [[conversation_id, seq], ...]
    Column("labelled_by", String(ID_LENGTH), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("exported_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("conversation_id", "seq"),
)

# Migration 0007: the console's desk tools.
canned_responses = Table(
    "canned_responses",
    metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("brand", String(32), nullable=False),
    Column("language", String(8), nullable=False),
    Column("shortcut", String(32), nullable=False),
    Column("title", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_by", String(ID_LENGTH), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("brand", "language", "shortcut"),
)

internal_notes = Table(
    "internal_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", String(ID_LENGTH), nullable=True),
    Column("author_name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "conversation_id", "id"),
)
