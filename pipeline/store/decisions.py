"""Review decisions: an append-only history per narrative and scheme.

A decision records the final codes for one scheme, the codes the model had selected, the codes
decided before (``None`` the first time), who decided, when and how (``individual``, ``bulk`` or
``import``). Nothing is overwritten: the current codes are those of the latest decision.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.errors import InputError
from pipeline.record import LabelledRecord
from pipeline.store.models import METHODS, Decision, Narrative
from pipeline.store.suggestions import latest_suggestion_set, selected_codes
from pipeline.taxonomy import Taxonomy

__all__ = ["ImportReport", "current_codes", "import_labels", "new_batch_id", "record_decision"]

logger = logging.getLogger(__name__)


def new_batch_id() -> str:
    """Return a fresh id that groups the decisions made by one action."""
    return uuid.uuid4().hex


def current_codes(session: Session, narrative_id: int) -> dict[str, list[str]]:
    """Return the latest decided codes per scheme of a narrative (``{}`` if never reviewed)."""
    latest = (
        select(func.max(Decision.id))
        .where(Decision.narrative_id == narrative_id)
        .group_by(Decision.scheme)
    )
    rows = session.execute(select(Decision.scheme, Decision.codes).where(Decision.id.in_(latest)))
    return {scheme: list(codes) for scheme, codes in rows}


def record_decision(
    session: Session,
    narrative_id: int,
    codes: Mapping[str, Sequence[str]],
    *,
    actor: str,
    method: str = "individual",
    user_id: int | None = None,
    note: str | None = None,
    batch_id: str | None = None,
) -> list[Decision]:
    """Append a review decision for some schemes of a narrative and mark it ``reviewed``.

    Codes are not checked against a taxonomy here: the review app and :func:`import_labels`
    validate them at their boundary.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    narrative_id : int
        Store id of the narrative.
    codes : mapping of str to sequence of str
        Final codes per scheme; ``[]`` means "reviewed: none apply".
    actor : str
        Who decided (a user name, or e.g. ``"import:labels.jsonl"``).
    method : str
        ``"individual"``, ``"bulk"`` or ``"import"``.
    user_id : int or None
        The review-app user, when there is one.
    note : str or None
        The reviewer's reason, if given.
    batch_id : str or None
        Groups decisions made by one action; a new one by default.

    Returns
    -------
    list of Decision
        One new row per scheme, recording suggested and previous codes.

    Raises
    ------
    InputError
        If the narrative does not exist, ``method`` is unknown or ``codes`` is empty.
    """
    if method not in METHODS:
        raise InputError(f"Unknown decision method {method!r}; use one of {', '.join(METHODS)}")
    if not codes:
        raise InputError(f"No codes given for narrative {narrative_id}; nothing to decide")
    narrative = session.get(Narrative, narrative_id)
    if narrative is None:
        raise InputError(f"No narrative with store id {narrative_id}; check the id")
    suggestion_set = latest_suggestion_set(session, narrative_id)
    suggested = selected_codes(suggestion_set) if suggestion_set else {}
    previous = current_codes(session, narrative_id)
    batch = batch_id or new_batch_id()
    decisions = [
        Decision(
            narrative_id=narrative_id,
            batch_id=batch,
            scheme=scheme,
            codes=list(scheme_codes),
            suggested_codes=suggested.get(scheme),
            previous_codes=previous.get(scheme),
            method=method,
            actor=actor,
            user_id=user_id,
            suggestion_set_id=suggestion_set.id if suggestion_set else None,
            note=note,
        )
        for scheme, scheme_codes in codes.items()
    ]
    session.add_all(decisions)
    if narrative.status != "reviewed":
        narrative.status = "reviewed"
        narrative.status_changed_at = dt.datetime.now(dt.UTC)
    session.flush()
    return decisions


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Outcome of :func:`import_labels`.

    Attributes
    ----------
    narratives : int
        Narratives that received at least one decision.
    decisions : int
        Decisions added (one per narrative and scheme).
    unchanged : int
        Schemes skipped because their current codes already equal the imported ones.
    unknown_ids : tuple of str
        Record ids that match no stored narrative.
    rejected : tuple of str
        One message per scheme of a record left out for an unknown scheme or code.
    batch_id : str
        Groups the decisions of this import.
    """

    narratives: int
    decisions: int
    unchanged: int
    unknown_ids: tuple[str, ...]
    rejected: tuple[str, ...]
    batch_id: str

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary (unknown ids and rejections listed in full)."""
        return {
            "narratives": self.narratives,
            "decisions": self.decisions,
            "unchanged": self.unchanged,
            "unknown_ids": list(self.unknown_ids),
            "rejected": list(self.rejected),
            "batch_id": self.batch_id,
        }

    def format(self) -> str:
        """Return a short human-readable summary."""
        lines = [
            f"Imported {self.decisions} decisions for {self.narratives} narratives "
            f"({self.unchanged} schemes already had these codes; batch {self.batch_id})."
        ]
        if self.unknown_ids:
            shown = ", ".join(self.unknown_ids[:10])
            more = f" and {len(self.unknown_ids) - 10} more" if len(self.unknown_ids) > 10 else ""
            lines.append(
                f"{len(self.unknown_ids)} ids not in the store (not imported): {shown}{more}"
            )
        lines += [f"Rejected: {message}" for message in self.rejected]
        return "\n".join(lines)


def import_labels(
    session: Session, records: Iterable[LabelledRecord], taxonomy: Taxonomy, *, actor: str
) -> ImportReport:
    """Record labelled codes as ``import`` decisions, matching narratives by record id.

    Nothing is guessed: a record whose id is not stored is reported, and a scheme with an unknown
    scheme id or code is left out and reported (the record's other schemes are imported).
    Re-importing the same labels adds nothing.

    Parameters
    ----------
    session : Session
        A session inside a write transaction.
    records : iterable of LabelledRecord
        Records with ``codes``; a scheme absent means "not labelled for this scheme".
    taxonomy : Taxonomy
        Codes are checked against it.
    actor : str
        Who imported, recorded on each decision.

    Returns
    -------
    ImportReport
        Counts, unknown ids and rejected schemes.
    """
    batch = new_batch_id()
    narratives = decisions = unchanged = 0
    unknown: list[str] = []
    rejected: list[str] = []
    for record in records:
        narrative_id = session.scalar(select(Narrative.id).where(Narrative.record_id == record.id))
        if narrative_id is None:
            unknown.append(record.id)
            continue
        accepted = _valid_schemes(record, taxonomy, rejected)
        current = current_codes(session, narrative_id)
        changed = {
            scheme: codes
            for scheme, codes in accepted.items()
            if scheme not in current or sorted(current[scheme]) != sorted(codes)
        }
        unchanged += len(accepted) - len(changed)
        if changed:
            record_decision(
                session, narrative_id, changed, actor=actor, method="import", batch_id=batch
            )
            narratives += 1
            decisions += len(changed)
    logger.info(
        "Imported %d decisions for %d narratives (%d unknown ids, %d rejected schemes)",
        decisions,
        narratives,
        len(unknown),
        len(rejected),
    )
    return ImportReport(narratives, decisions, unchanged, tuple(unknown), tuple(rejected), batch)


def _valid_schemes(
    record: LabelledRecord, taxonomy: Taxonomy, rejected: list[str]
) -> dict[str, list[str]]:
    accepted: dict[str, list[str]] = {}
    for scheme, codes in record.codes.items():
        try:
            taxonomy.check_codes({scheme: codes}, where=f"record {record.id}")
        except InputError as error:
            rejected.append(str(error))
            continue
        accepted[scheme] = list(codes)
    return accepted
