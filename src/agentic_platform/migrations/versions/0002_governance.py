"""governance: plans, usage ledger, key and principal details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:57:29.196376
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("input_tokens_per_minute", sa.Integer(), nullable=True),
        sa.Column("output_tokens_per_minute", sa.Integer(), nullable=True),
        sa.Column("max_concurrent_requests", sa.Integer(), nullable=True),
        sa.Column("budget_usd_per_day", sa.Float(), nullable=True),
        sa.Column("budget_usd_per_month", sa.Float(), nullable=True),
        sa.Column("model_overrides", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "usage_records",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("acting_via", sa.String(length=64), nullable=True),
        sa.Column("endpoint", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("deployment", sa.String(length=300), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_usage_records")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_records_principal_time", ["principal_id", "time"], unique=False
        )
        batch_op.create_index("ix_usage_records_team_time", ["team_id", "time"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_records_time"), ["time"], unique=False)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description", sa.String(length=2000), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("plan_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
        batch_op.create_index(batch_op.f("ix_api_keys_updated_at"), ["updated_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_plan_id_plans"), "plans", ["plan_id"], ["id"]
        )

    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("external_subject", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("plan_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
        batch_op.create_index(batch_op.f("ix_principals_updated_at"), ["updated_at"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_principals_issuer"), ["issuer", "external_subject"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_principals_plan_id_plans"), "plans", ["plan_id"], ["id"]
        )

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
        batch_op.create_index(batch_op.f("ix_teams_updated_at"), ["updated_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_teams_plan_id_plans"), "plans", ["plan_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_teams_plan_id_plans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_teams_updated_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("plan_id")

    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_principals_plan_id_plans"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_principals_issuer"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_principals_updated_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("plan_id")
        batch_op.drop_column("external_subject")
        batch_op.drop_column("issuer")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_plan_id_plans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_keys_updated_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("plan_id")
        batch_op.drop_column("description")

    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_records_time"))
        batch_op.drop_index("ix_usage_records_team_time")
        batch_op.drop_index("ix_usage_records_principal_time")

    op.drop_table("usage_records")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_updated_at"))

    op.drop_table("plans")
