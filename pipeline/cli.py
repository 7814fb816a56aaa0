"""The ``nearmiss`` command line: a thin Typer shell over library calls.

Each command is a few lines. Heavy imports happen inside commands so that ``--help`` and quick
commands stay fast. A :class:`~pipeline.errors.NearMissError` becomes a one-line reason on stderr
and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from pipeline.errors import NearMissError

__all__ = ["app"]

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="nearmiss",
    help="Suggest contributory-factor and recovery codes for GP near-miss narratives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
taxonomy_app = typer.Typer(help="Check and show taxonomy files.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`NearMissError` raised by ``command`` into a one-line message and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NearMissError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(code=1) from None

    return wrapper


def emit_json(payload: dict[str, Any]) -> None:
    """Write exactly one compact JSON line to stdout."""
    sys.stdout.write(json.dumps(payload, separators=(",", ":"), default=str) + "\n")


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More logs on stderr (-vv: debug)."),
    ] = 0,
) -> None:
    """Suggest contributory-factor and recovery codes for GP near-miss narratives."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@taxonomy_app.command("check")
@reports_errors
def taxonomy_check(
    file: Annotated[Path, typer.Argument(help="Taxonomy YAML file to validate.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Validate a taxonomy file and report its schemes and code counts."""
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(file)
    summary = {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "schemes": {s.id: len(s.leaf_codes) for s in taxonomy.schemes},
        "warnings": list(taxonomy.warnings),
    }
    if as_json:
        emit_json(summary)
        return
    for warning in taxonomy.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo(f"{file}: OK, taxonomy {taxonomy.name} v{taxonomy.version}")
    for scheme in taxonomy.schemes:
        kind = "multi-label" if scheme.multi_label else "single-label"
        typer.echo(f"  {scheme.id}: {len(scheme.leaf_codes)} codes ({kind})")


@taxonomy_app.command("show")
@reports_errors
def taxonomy_show(
    file: Annotated[Path, typer.Argument(help="Taxonomy YAML file to show.")],
    scheme: Annotated[str | None, typer.Option("--scheme", help="Show only this scheme.")] = None,
) -> None:
    """Print a taxonomy as an indented tree of codes with their labels."""
    from pipeline.taxonomy import format_taxonomy, load_taxonomy

    typer.echo(format_taxonomy(load_taxonomy(file), scheme=scheme))


@app.command("ingest")
@reports_errors
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="Export files (CSV, XLSX, JSONL, DOCX, PDF, TXT) or folders."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Records JSONL to write.")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Quarantine JSONL (default: <output stem>.quarantine.jsonl beside it)."),
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            "-c",
            help="Map a column: TARGET=COLUMN, e.g. 'text=Incident description'. Targets: "
            "text, action_taken, why, went_well, learning, changes, id, practice, event_date. "
            "Repeatable.",
        ),
    ] = None,
    keep_raw: Annotated[
        bool, typer.Option("--keep-raw", help="Write quarantined rows unredacted (personal data!).")
    ] = False,
    encoding: Annotated[
        str | None, typer.Option(help="Force the encoding of CSV and text files (e.g. cp1252).")
    ] = None,
    on_id_conflict: Annotated[
        str,
        typer.Option(
            help="A known id with different text: 'quarantine' the row or 'derive' a new id."
        ),
    ] = "quarantine",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON line.")
    ] = False,
) -> None:
    """Read exports into de-identified records; quarantine bad rows with a reason."""
    from pipeline.ingest import IdConflict, ingest_files, parse_column_options

    summary = ingest_files(
        files,
        output,
        quarantine,
        columns=parse_column_options(column or []),
        encoding=encoding,
        keep_raw=keep_raw,
        on_id_conflict=IdConflict.parse(on_id_conflict),
    )
    if as_json:
        emit_json(summary.to_dict())
    else:
        typer.echo(summary.format())
