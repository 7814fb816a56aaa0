"""Finished inputs: export files a batch finished, so that an unchanged re-run stops early.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Keyed by the file's SHA-256 and size, a digest of the ingest options (column mapping) and the
bundle that coded it; holds the file's counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the finished_inputs table."""
    op.create_table(
        "finished_inputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("options", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("encoding", sa.String(length=64), nullable=True),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("ingested", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("quarantine", sa.String(length=1000), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finished_inputs")),
        sa.UniqueConstraint(
            "sha256",
            "size",
            "options",
            "model",
            name=op.f("uq_finished_inputs_sha256_size_options_model"),
        ),
    )


def downgrade() -> None:
    """Drop the finished_inputs table."""
    op.drop_table("finished_inputs")
