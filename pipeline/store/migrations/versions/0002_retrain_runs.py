"""Retrain runs: every retraining decision, promoted or not, with its metrics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

An audit record like decisions and promotions: a trigger refuses any UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Create the retrain_runs table and its append-only trigger."""
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("baseline_bundle_id", sa.Integer(), nullable=True),
        sa.Column("baseline_name", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("new_score", sa.Float(), nullable=False),
        sa.Column("baseline_score", sa.Float(), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("include_bulk", sa.Boolean(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_heldout", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("metrics", _json(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_retrain_runs_bundle_id_bundles")
        ),
        sa.ForeignKeyConstraint(
            ["baseline_bundle_id"],
            ["bundles.id"],
            name=op.f("fk_retrain_runs_baseline_bundle_id_bundles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_runs")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER retrain_runs_append_only BEFORE UPDATE ON retrain_runs "
            "FOR EACH ROW EXECUTE FUNCTION nearmiss_refuse_update()"
        )
    else:
        op.execute(
            "CREATE TRIGGER retrain_runs_append_only BEFORE UPDATE ON retrain_runs BEGIN "
            "SELECT RAISE(ABORT, 'nearmiss: rows of retrain_runs are never updated; "
            "add a new row'); END"
        )


def downgrade() -> None:
    """Drop the retrain_runs table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS retrain_runs_append_only ON retrain_runs")
    else:
        op.execute("DROP TRIGGER IF EXISTS retrain_runs_append_only")
    op.drop_table("retrain_runs")
