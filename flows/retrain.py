"""``retrain``: train a new bundle from reviewed codes and promote it only if it is better.

A thin Prefect shell over ``training.retrain.retrain``, which does the work as a plain function:
it builds a dataset from individually reviewed codes (bulk-accepted decisions echo the model and are
left out unless ``include_bulk``), trains a new bundle in a new directory (old bundles are never
overwritten), evaluates it and the promoted bundle on the same held-out reviewed slice, promotes it
only if it is better by the configured metric (or ``force``), and records the decision and metrics
in the store. It returns a report with a JSON-ready ``to_dict()``: ids, names, paths and metrics,
never narrative text.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from pipeline.store import db_url as resolve_db_url

__all__ = ["retrain"]


@task(name="train-evaluate-promote", persist_result=False, cache_policy=NO_CACHE)
def train_evaluate_promote(
    db_url: str, include_bulk: bool, force: bool, metric: str
) -> dict[str, Any]:
    """Run the retraining library function and return its report as a dict."""
    from training.retrain import retrain as run_retrain

    report = run_retrain(db_url=db_url, include_bulk=include_bulk, force=force, metric=metric)
    result: dict[str, Any] = report.to_dict()
    return result


@flow(name="retrain", persist_result=False, log_prints=False)
def retrain(
    db: SecretStr | None = None,
    include_bulk: bool = False,
    force: bool = False,
    metric: str = "macro_f1",
) -> dict[str, Any]:
    """Train a bundle from reviewed codes, evaluate it against the promoted one, maybe promote it.

    Parameters
    ----------
    db : SecretStr or None
        Store URL (masked in Prefect); ``None`` means ``NEARMISS_DB`` or the default SQLite file.
    include_bulk : bool
        Also learn from bulk-accepted decisions (they mostly echo the model).
    force : bool
        Promote the new bundle even if it is not better.
    metric : str
        How the new and the promoted bundle are compared (``macro_f1`` or ``micro_f1``).

    Returns
    -------
    dict
        The retraining report: the new bundle, metrics of both bundles on the same slice, and
        whether it was promoted and why.
    """
    url = resolve_db_url(db.get_secret_value() if db is not None else None)
    report = train_evaluate_promote(url, include_bulk, force, metric)
    get_run_logger().info(
        "retrain: %s", {k: v for k, v in report.items() if isinstance(v, int | float | bool | str)}
    )
    return report
