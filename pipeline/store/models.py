"""Tables of the review store, as SQLAlchemy 2 declarative models.

Narratives hold de-identified text only. Everything derived from a narrative (suggestion sets,
suggestions, decisions) is deleted with it (``ON DELETE CASCADE``), so a purge leaves nothing
behind. Decisions are append-only: a new decision is a new row that records the previous codes.
The schema itself is created and changed only by the Alembic migrations in
``pipeline/store/migrations``; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "METHODS",
    "ROLES",
    "STATUSES",
    "Base",
    "Bundle",
    "BundleFile",
    "Decision",
    "FinishedInput",
    "Narrative",
    "Promotion",
    "Purge",
    "Suggestion",
    "SuggestionSet",
    "User",
    "UserPractice",
]

#: Review status of a narrative: ``pending`` until a decision is recorded, then ``reviewed``.
STATUSES: tuple[str, ...] = ("pending", "reviewed")
#: How a decision was made: one narrative in the review app, many at once, or imported labels.
METHODS: tuple[str, ...] = ("individual", "bulk", "import")
#: Roles of review-app users. ``investigator`` sees only the practices in ``user_practices``.
ROLES: tuple[str, ...] = ("admin", "ics", "investigator", "data_scientist")

# Named constraints let Alembic's batch mode (SQLite) find and change them later.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert an aware timestamp to UTC; a naive one is taken to be UTC already."""
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Attach UTC to naive timestamps read back from SQLite."""
        if not isinstance(value, dt.datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base holding the store's metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Narrative(Base):
    """A de-identified narrative, unique by ``record_id`` and by ``content_hash``."""

    __tablename__ = "narratives"
    __table_args__ = (
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        Index(None, "status", "practice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    sections: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    practice: Mapped[str | None] = mapped_column(String(64), index=True)
    event_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    source: Mapped[str | None] = mapped_column(String(500))
    source_row: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    suggestion_sets: Mapped[list[SuggestionSet]] = relationship(
        back_populates="narrative", cascade="all, delete-orphan", passive_deletes=True
    )
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="narrative",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Decision.id",
    )


class SuggestionSet(Base):
    """The suggestions one model made for one narrative (one line of a suggestions file)."""

    __tablename__ = "suggestion_sets"
    __table_args__ = (UniqueConstraint("narrative_id", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    narrative_id: Mapped[int] = mapped_column(
        ForeignKey("narratives.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(200))
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    narrative: Mapped[Narrative] = relationship(back_populates="suggestion_sets")
    suggestions: Mapped[list[Suggestion]] = relationship(
        back_populates="suggestion_set",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Suggestion.id",
    )


class Suggestion(Base):
    """One code's score, the model's decision and the evidence sentences for it."""

    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("set_id", "scheme", "code"),
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("suggestion_sets.id", ondelete="CASCADE"))
    scheme: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    score: Mapped[float]
    selected: Mapped[bool]
    evidence: Mapped[list[dict[str, str | None]]] = mapped_column(JSONType, default=list)

    suggestion_set: Mapped[SuggestionSet] = relationship(back_populates="suggestions")


class Decision(Base):
    """One reviewer's codes for one scheme of one narrative; rows are never updated."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_one_of("method", METHODS), name="method"),
        Index(None, "narrative_id", "scheme", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    narrative_id: Mapped[int] = mapped_column(ForeignKey("narratives.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    scheme: Mapped[str] = mapped_column(String(64))
    codes: Mapped[list[str]] = mapped_column(JSONType)
    suggested_codes: Mapped[list[str] | None] = mapped_column(JSONType)
    previous_codes: Mapped[list[str] | None] = mapped_column(JSONType)
    method: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    suggestion_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestion_sets.id"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    narrative: Mapped[Narrative] = relationship(back_populates="decisions")


class Bundle(Base):
    """A registered model bundle; ``digest`` is the SHA-256 of its sorted file hashes."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    taxonomy_name: Mapped[str | None] = mapped_column(String(200))
    taxonomy_version: Mapped[int | None]
    bundle_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    files: Mapped[list[BundleFile]] = relationship(
        back_populates="bundle",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BundleFile.path",
    )


class BundleFile(Base):
    """The SHA-256 of one file of a bundle, checked before anything in it is unpickled."""

    __tablename__ = "bundle_files"

    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)

    bundle: Mapped[Bundle] = relationship(back_populates="files")


class Promotion(Base):
    """A bundle being promoted; the promoted bundle is the one with the latest promotion."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    bundle: Mapped[Bundle] = relationship()


class User(Base):
    """A review-app user; ``password_hash`` is set by the app, never a plain password."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    practices: Mapped[list[UserPractice]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class UserPractice(Base):
    """A practice an ``investigator`` may see (other roles see every practice)."""

    __tablename__ = "user_practices"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    practice: Mapped[str] = mapped_column(String(64), primary_key=True)

    user: Mapped[User] = relationship(back_populates="practices")


class Purge(Base):
    """A record that narratives were purged: the cut-off and counts, never their content."""

    __tablename__ = "purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    before: Mapped[dt.date] = mapped_column(Date)
    practice: Mapped[str | None] = mapped_column(String(64))
    narratives: Mapped[int]
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class RetrainRun(Base):
    """One retraining decision: the new bundle, the baseline, the metric and whether it won."""

    __tablename__ = "retrain_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("bundles.id"))
    baseline_bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"))
    baseline_name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(64))
    new_score: Mapped[float] = mapped_column(Float)
    baseline_score: Mapped[float | None] = mapped_column(Float)
    promoted: Mapped[bool]
    forced: Mapped[bool]
    include_bulk: Mapped[bool]
    n_train: Mapped[int]
    n_heldout: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class FinishedInput(Base):
    """An export file that a batch run finished: every row stored or quarantined, and coded.

    Keyed by the file's content (SHA-256 and size, not its path) and the bundle that coded it, so
    that ``nearmiss batch`` can skip an unchanged export without ingesting it again. ``options``
    is a digest of the ingest options that shape records (the column mapping). The counts are the
    file's, from the run that finished it. A purge deletes these rows.
    """

    __tablename__ = "finished_inputs"
    __table_args__ = (UniqueConstraint("sha256", "size", "options", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    options: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(32))
    encoding: Mapped[str | None] = mapped_column(String(64))
    read: Mapped[int]
    ingested: Mapped[int]
    quarantined: Mapped[int]
    duplicates: Mapped[int]
    quarantine: Mapped[str] = mapped_column(String(1000))
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
