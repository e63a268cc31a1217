"""memory: sessions, messages, extraction progress, memories and their sources

Revision ID: 0200_memory
Revises: 0100_retrieval
Create Date: 2026-11-26 12:18:05.095945
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_memory"
down_revision = "0100_retrieval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("indexed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["principals.id"], name=op.f("fk_memories_owner_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memories_indexed"), ["indexed"], unique=False)
        batch_op.create_index("ix_memories_owner_hash", ["owner_id", "content_hash"], unique=False)
        batch_op.create_index("ix_memories_owner_updated", ["owner_id", "updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_memories_session_id"), ["session_id"], unique=False)

    op.create_table(
        "memory_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["principals.id"], name=op.f("fk_memory_sessions_owner_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_sessions")),
    )
    with op.batch_alter_table("memory_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memory_sessions_owner_created", ["owner_id", "created_at"], unique=False
        )

    op.create_table(
        "memory_extraction",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("indexed_through", sa.Integer(), nullable=False),
        sa.Column("extracted_through", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("memories_added", sa.Integer(), nullable=False),
        sa.Column("memories_updated", sa.Integer(), nullable=False),
        sa.Column("memories_deleted", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["memory_sessions.id"],
            name=op.f("fk_memory_extraction_session_id_memory_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_memory_extraction")),
    )
    op.create_table(
        "memory_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["memory_sessions.id"],
            name=op.f("fk_memory_messages_session_id_memory_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_messages")),
        sa.UniqueConstraint("session_id", "position", name="uq_memory_messages_session_position"),
    )
    with op.batch_alter_table("memory_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_memory_messages_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "memory_sources",
        sa.Column("memory_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["memory_id"],
            ["memories.id"],
            name=op.f("fk_memory_sources_memory_id_memories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("memory_id", "message_id", name=op.f("pk_memory_sources")),
    )


def downgrade() -> None:
    op.drop_table("memory_sources")
    with op.batch_alter_table("memory_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_messages_created_at"))

    op.drop_table("memory_messages")
    op.drop_table("memory_extraction")
    with op.batch_alter_table("memory_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_memory_sessions_owner_created")

    op.drop_table("memory_sessions")
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memories_session_id"))
        batch_op.drop_index("ix_memories_owner_updated")
        batch_op.drop_index("ix_memories_owner_hash")
        batch_op.drop_index(batch_op.f("ix_memories_indexed"))

    op.drop_table("memories")
