"""retrieval: document generations, write intents, ingest job leases and stored job inputs

Revision ID: 0210_ingest_leases
Revises: 0200_memory
Create Date: 2026-12-03 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0210_ingest_leases"
down_revision = "0200_memory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.String(length=32), server_default="", nullable=False)
        )
    with op.batch_alter_table("kb_ingest_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_kb_ingest_jobs_lease_expires_at"), ["lease_expires_at"], unique=False
        )
    op.create_table(
        "kb_job_inputs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["kb_ingest_jobs.id"],
            name=op.f("fk_kb_job_inputs_job_id_kb_ingest_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_kb_job_inputs")),
    )
    op.create_table(
        "kb_write_intents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kb_id", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("collection", sa.String(length=200), nullable=False),
        sa.Column("document_id", sa.String(length=200), nullable=True),
        sa.Column("generation", sa.String(length=32), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_write_intents")),
    )
    with op.batch_alter_table("kb_write_intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_write_intents_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_kb_write_intents_kb_document", ["kb_id", "document_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kb_write_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_write_intents_kb_document")
        batch_op.drop_index(batch_op.f("ix_kb_write_intents_expires_at"))
    op.drop_table("kb_write_intents")
    op.drop_table("kb_job_inputs")
    with op.batch_alter_table("kb_ingest_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_ingest_jobs_lease_expires_at"))
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
    with op.batch_alter_table("kb_documents", schema=None) as batch_op:
        batch_op.drop_column("generation")
