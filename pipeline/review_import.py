"""Import codes already decided by people (a labelled JSONL file) into the review store."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.errors import InputError
from pipeline.record import iter_labelled
from pipeline.store import ImportReport, import_labels, session_scope
from pipeline.store import db_url as store_url
from pipeline.taxonomy import load_taxonomy

__all__ = ["import_labelled_file"]

logger = logging.getLogger(__name__)


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
    records = [record for _, record in iter_labelled(path)]
    with session_scope(store_url(db_url), write=True) as session:
        report = import_labels(session, records, taxonomy, actor=reviewer.strip())
    logger.info("Imported %s: %d records read", path.name, len(records))
    return report
