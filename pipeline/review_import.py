"""Import codes already decided by people (a labelled JSONL file) into the review store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from pipeline.errors import InputError
from pipeline.jsonl import iter_jsonl
from pipeline.record import LabelledRecord
from pipeline.store import ImportReport, import_labels, session_scope
from pipeline.store import db_url as store_url
from pipeline.taxonomy import load_taxonomy

__all__ = ["import_labelled_file", "iter_labelled"]

logger = logging.getLogger(__name__)


def iter_labelled(path: Path) -> Iterator[LabelledRecord]:
    """Yield the labelled records of a JSONL file, validated at the boundary.

    Parameters
    ----------
    path : Path
        Labelled data: records with ``codes``.

    Yields
    ------
    LabelledRecord
        One per line.

    Raises
    ------
    InputError
        On a line that is not JSON, lacks ``id``, ``text`` or ``codes``, has badly typed
        fields or repeats an earlier line's id; the message names the file, line and field.
    """
    first_line: dict[str, int] = {}
    for number, raw in iter_jsonl(path):
        try:
            record = LabelledRecord.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "record"
            raise InputError(
                f"{path}, line {number}: field '{field}' {first['msg'].lower()}; "
                "labelled data needs id, text and codes ({scheme: [code, ...]})"
            ) from None
        if record.id in first_line:
            raise InputError(
                f"{path}, line {number}: id '{record.id}' is already on line "
                f"{first_line[record.id]}; keep one line per record"
            )
        first_line[record.id] = number
        yield record


def import_labelled_file(
    path: Path, *, db_url: str | None, taxonomy_path: Path, reviewer: str
) -> ImportReport:
    """Record the codes in a labelled JSONL file as ``import`` decisions.

    Records are matched to stored narratives by id. Unknown ids, schemes and codes are reported in
    the returned summary, never guessed. The whole file is read and validated before anything is
    written, and it is imported in one transaction.

    Parameters
    ----------
    path : Path
        Labelled JSONL.
    db_url : str or None
        Store URL (``None``: ``NEARMISS_DB`` or the default SQLite file).
    taxonomy_path : Path
        Codes are checked against this taxonomy.
    reviewer : str
        Who decided these codes; recorded on every decision.

    Returns
    -------
    ImportReport
        Counts, unknown ids and rejected schemes.

    Raises
    ------
    InputError
        If the file or a line is malformed, or ``reviewer`` is blank.
    """
    if not reviewer.strip():
        raise InputError("--reviewer is blank; give the name of the person who decided the codes")
    taxonomy = load_taxonomy(taxonomy_path)
    records = list(iter_labelled(path))
    with session_scope(store_url(db_url), write=True) as session:
        report = import_labels(session, records, taxonomy, actor=reviewer.strip())
    logger.info("Imported %s: %d records read", path.name, len(records))
    return report
