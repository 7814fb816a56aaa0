"""Initial schema: narratives, suggestions, decisions, model registry, users and purges.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

A migration is frozen once released: it never imports the models, whose later versions differ.
Decisions, promotions and purges are audit records: a trigger refuses any UPDATE of them (rows
are only added, or deleted with their narrative by a purge). A later batch migration that
recreates one of these tables on SQLite drops its trigger and must create it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("decisions", "promotions", "purges")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create every table, index and append-only trigger."""
    op.create_table(
        "bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("taxonomy_name", sa.String(length=200), nullable=True),
        sa.Column("taxonomy_version", sa.Integer(), nullable=True),
        sa.Column("bundle_metadata", _json(), nullable=True),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        _timestamp("registered_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
        sa.UniqueConstraint("digest", name=op.f("uq_bundles_digest")),
    )
    op.create_index(op.f("ix_bundles_name"), "bundles", ["name"])

    op.create_table(
        "narratives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sections", _json(), nullable=True),
        sa.Column("practice", sa.String(length=64), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        _timestamp("created_at"),
        _timestamp("status_changed_at"),
        sa.CheckConstraint("status IN ('pending', 'reviewed')", name=op.f("ck_narratives_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_narratives")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_narratives_content_hash")),
        sa.UniqueConstraint("record_id", name=op.f("uq_narratives_record_id")),
    )
    op.create_index(op.f("ix_narratives_event_date"), "narratives", ["event_date"])
    op.create_index(op.f("ix_narratives_practice"), "narratives", ["practice"])
    op.create_index(op.f("ix_narratives_status_practice"), "narratives", ["status", "practice"])

    op.create_table(
        "purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("before", sa.Date(), nullable=False),
        sa.Column("practice", sa.String(length=64), nullable=True),
        sa.Column("narratives", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purges")),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=500), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "role IN ('admin', 'ics', 'investigator', 'data_scientist')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )

    op.create_table(
        "bundle_files",
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["bundles.id"],
            name=op.f("fk_bundle_files_bundle_id_bundles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bundle_id", "path", name=op.f("pk_bundle_files")),
    )

    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metrics", _json(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_promotions_bundle_id_bundles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index(op.f("ix_promotions_bundle_id"), "promotions", ["bundle_id"])

    op.create_table(
        "suggestion_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["bundle_id"], ["bundles.id"], name=op.f("fk_suggestion_sets_bundle_id_bundles")
        ),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_suggestion_sets_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_sets")),
        sa.UniqueConstraint(
            "narrative_id", "model", name=op.f("uq_suggestion_sets_narrative_id_model")
        ),
    )
    op.create_index(op.f("ix_suggestion_sets_bundle_id"), "suggestion_sets", ["bundle_id"])
    op.create_index(op.f("ix_suggestion_sets_narrative_id"), "suggestion_sets", ["narrative_id"])

    op.create_table(
        "user_practices",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("practice", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_practices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "practice", name=op.f("pk_user_practices")),
    )

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("narrative_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("codes", _json(), nullable=False),
        sa.Column("suggested_codes", _json(), nullable=True),
        sa.Column("previous_codes", _json(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("suggestion_set_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "method IN ('individual', 'bulk', 'import')", name=op.f("ck_decisions_method")
        ),
        sa.ForeignKeyConstraint(
            ["narrative_id"],
            ["narratives.id"],
            name=op.f("fk_decisions_narrative_id_narratives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_set_id"],
            ["suggestion_sets.id"],
            name=op.f("fk_decisions_suggestion_set_id_suggestion_sets"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_decisions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_batch_id"), "decisions", ["batch_id"])
    op.create_index(
        op.f("ix_decisions_narrative_id_scheme_id"), "decisions", ["narrative_id", "scheme", "id"]
    )
    op.create_index(op.f("ix_decisions_suggestion_set_id"), "decisions", ["suggestion_set_id"])
    op.create_index(op.f("ix_decisions_user_id"), "decisions", ["user_id"])

    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 1", name=op.f("ck_suggestions_score")),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["suggestion_sets.id"],
            name=op.f("fk_suggestions_set_id_suggestion_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestions")),
        sa.UniqueConstraint(
            "set_id", "scheme", "code", name=op.f("uq_suggestions_set_id_scheme_code")
        ),
    )

    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION nearmiss_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'nearmiss: rows of % are never updated; add a new row', "
            "TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION nearmiss_refuse_update()"
            )
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'nearmiss: rows of {table} are never updated; add a new row'); "
            "END"
        )


def downgrade() -> None:
    """Drop everything this revision created."""
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only" + _on(table))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS nearmiss_refuse_update()")
    for table in (
        "suggestions",
        "decisions",
        "user_practices",
        "suggestion_sets",
        "promotions",
        "bundle_files",
        "users",
        "purges",
        "narratives",
        "bundles",
    ):
        op.drop_table(table)


def _on(table: str) -> str:
    return f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
