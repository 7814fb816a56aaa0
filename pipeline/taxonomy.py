"""Taxonomies: load, validate and query the coding schemes (the taxonomy YAML contract).

A taxonomy file holds one or more schemes; each scheme holds codes, some of which group others
(``parent``). Narratives are labelled with leaf codes only. Any team's own file in the same format
works everywhere a taxonomy is taken.

Examples
--------
>>> from pipeline.config import get_settings
>>> taxonomy = load_taxonomy(get_settings().taxonomy_path)
>>> taxonomy.scheme("recovery_agent").leaf_ids
('human', 'designed')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import InputError, TaxonomyError

__all__ = ["Code", "Scheme", "Taxonomy", "format_taxonomy", "load_taxonomy"]

ID_PATTERN = re.compile(r"^[a-z0-9_]+$")


class _CodeFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    parent: str | None = None
    examples: list[str] = Field(default_factory=list)
    notes: str | None = None
    crosswalk: dict[str, str | list[str]] = Field(default_factory=dict)


class _SchemeFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: str = Field(min_length=1)
    multi_label: bool
    description: str | None = None
    codes: list[_CodeFile] = Field(min_length=1)


class _TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    version: int = Field(ge=1, strict=True)
    description: str | None = None
    schemes: list[_SchemeFile] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Code:
    """One code of a scheme."""

    id: str
    label: str
    definition: str
    parent: str | None = None
    examples: tuple[str, ...] = ()
    notes: str | None = None
    crosswalk: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Scheme:
    """A coding scheme: an ordered set of codes, single- or multi-label."""

    id: str
    title: str
    multi_label: bool
    codes: tuple[Code, ...]
    description: str | None = None

    @cached_property
    def leaf_codes(self) -> tuple[Code, ...]:
        """Codes that group no other code: the ones narratives are labelled with."""
        parents = {code.parent for code in self.codes if code.parent}
        return tuple(code for code in self.codes if code.id not in parents)

    @cached_property
    def leaf_ids(self) -> tuple[str, ...]:
        """Ids of the leaf codes, in file order."""
        return tuple(code.id for code in self.leaf_codes)

    def code(self, code_id: str) -> Code:
        """Return the code ``code_id``.

        Raises
        ------
        TaxonomyError
            If the scheme has no such code.
        """
        for code in self.codes:
            if code.id == code_id:
                return code
        raise TaxonomyError(f"Scheme '{self.id}' has no code '{code_id}'")


@dataclass(frozen=True)
class Taxonomy:
    """A validated taxonomy file."""

    name: str
    version: int
    schemes: tuple[Scheme, ...]
    path: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def scheme_ids(self) -> tuple[str, ...]:
        """Scheme ids in file order."""
        return tuple(scheme.id for scheme in self.schemes)

    def scheme(self, scheme_id: str) -> Scheme:
        """Return the scheme ``scheme_id``.

        Raises
        ------
        TaxonomyError
            If the taxonomy has no such scheme.
        """
        for scheme in self.schemes:
            if scheme.id == scheme_id:
                return scheme
        known = ", ".join(self.scheme_ids)
        raise TaxonomyError(
            f"Taxonomy {self.name} v{self.version} has no scheme '{scheme_id}' (it has: {known})"
        )

    def check_codes(self, codes: Mapping[str, Sequence[str]], where: str) -> None:
        """Check a labelled record's codes against this taxonomy.

        Parameters
        ----------
        codes : mapping of str to sequence of str
            ``{scheme_id: [code_id, ...]}`` as in the labelled-data contract.
        where : str
            Where the codes come from (file and line), used in error messages.

        Raises
        ------
        InputError
            On an unknown scheme, an unknown or grouping code, a repeated code, or more than
            one code in a single-label scheme.
        """
        for scheme_id, code_ids in codes.items():
            if scheme_id not in self.scheme_ids:
                raise InputError(
                    f"{where}: unknown scheme '{scheme_id}'; taxonomy {self.name} "
                    f"v{self.version} has {', '.join(self.scheme_ids)}"
                )
            scheme = self.scheme(scheme_id)
            for code_id in code_ids:
                if code_id not in scheme.leaf_ids:
                    kind = (
                        "a grouping code"
                        if any(c.id == code_id for c in scheme.codes)
                        else ("unknown")
                    )
                    raise InputError(
                        f"{where}: code '{code_id}' in scheme '{scheme_id}' is {kind}; "
                        f"use one of the leaf codes ({', '.join(scheme.leaf_ids)})"
                    )
            if len(set(code_ids)) != len(code_ids):
                raise InputError(f"{where}: scheme '{scheme_id}' repeats a code: {list(code_ids)}")
            if not scheme.multi_label and len(code_ids) > 1:
                raise InputError(
                    f"{where}: scheme '{scheme_id}' is single-label but has {len(code_ids)} "
                    f"codes {list(code_ids)}; keep one"
                )


def load_taxonomy(path: Path) -> Taxonomy:
    """Load and validate a taxonomy YAML file.

    Parameters
    ----------
    path : Path
        The taxonomy file, e.g. ``taxonomies/gp-near-miss/v1.yaml``.

    Returns
    -------
    Taxonomy
        The validated taxonomy; unknown keys are reported in ``warnings``.

    Raises
    ------
    TaxonomyError
        If the file is missing or unreadable, is not valid YAML, or breaks the contract
        (missing fields, bad or duplicate ids, unknown or cyclic parents). The message names the
        file, the scheme and the code.
    """
    raw = _read_yaml(path)
    try:
        parsed = _TaxonomyFile.model_validate(raw)
    except ValidationError as error:
        raise TaxonomyError(_describe_validation_error(path, raw, error)) from None
    warnings = list(_unknown_key_warnings(path, parsed))
    schemes = tuple(_build_scheme(path, scheme) for scheme in parsed.schemes)
    _check_unique(path, [s.id for s in schemes], "scheme id", prefix=f"{path}")
    return Taxonomy(
        name=parsed.name,
        version=parsed.version,
        schemes=schemes,
        path=path,
        warnings=tuple(warnings),
    )


def format_taxonomy(taxonomy: Taxonomy, scheme: str | None = None) -> str:
    """Render a taxonomy as an indented tree of code ids and labels.

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy to show.
    scheme : str or None
        Show only this scheme.

    Returns
    -------
    str
        Human-readable text, one code a line.
    """
    schemes = [taxonomy.scheme(scheme)] if scheme else list(taxonomy.schemes)
    lines = [f"{taxonomy.name} v{taxonomy.version}"]
    for item in schemes:
        kind = "multi-label" if item.multi_label else "single-label"
        lines.append(f"\n{item.id}: {item.title} ({kind}, {len(item.leaf_codes)} codes)")
        children: dict[str | None, list[Code]] = {}
        for code in item.codes:
            children.setdefault(code.parent, []).append(code)

        def walk(parent: str | None, depth: int, codes: dict[str | None, list[Code]]) -> None:
            for code in codes.get(parent, []):
                lines.append(f"{'  ' * depth}- {code.id}: {code.label}")
                walk(code.id, depth + 1, codes)

        walk(None, 1, children)
    return "\n".join(lines)


#: PyYAML's safe loader, in C when libyaml is there: the same result, measured 0.11 -> 0.01 s for
#: the shipped taxonomy, which every process that codes loads.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise TaxonomyError(f"{path}: no such taxonomy file; check the path or NEARMISS_TAXONOMY")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).replace("\n", " ")
        raise TaxonomyError(f"{path}: not valid YAML ({reason}); fix the file") from None
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{path}: expected a mapping with name, version and schemes")
    return raw


def _describe_validation_error(path: Path, raw: Any, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    where = [str(path)]
    if len(loc) >= 2 and loc[0] == "schemes" and isinstance(loc[1], int):
        scheme = _get(raw, ["schemes", loc[1]])
        where.append(f"scheme '{_get(scheme, ['id']) or '#' + str(loc[1] + 1)}'")
        if len(loc) >= 4 and loc[2] == "codes" and isinstance(loc[3], int):
            code = _get(scheme, ["codes", loc[3]])
            where.append(f"code '{_get(code, ['id']) or '#' + str(loc[3] + 1)}'")
            loc = loc[4:]
        else:
            loc = loc[2:]
    field_name = ".".join(str(part) for part in loc) or "value"
    message = first["msg"]
    if first["type"] == "missing":
        message = "is missing; every item needs it"
    return f"{', '.join(where)}: field '{field_name}' {message}"


def _get(value: Any, keys: list[Any]) -> Any:
    for key in keys:
        if isinstance(value, dict) and isinstance(key, str):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def _unknown_key_warnings(path: Path, parsed: _TaxonomyFile) -> list[str]:
    warnings = [f"{path}: unknown key '{key}' ignored" for key in parsed.model_extra or {}]
    for scheme in parsed.schemes:
        warnings += [
            f"{path}, scheme '{scheme.id}': unknown key '{key}' ignored"
            for key in scheme.model_extra or {}
        ]
        for code in scheme.codes:
            warnings += [
                f"{path}, scheme '{scheme.id}', code '{code.id}': unknown key '{key}' ignored"
                for key in code.model_extra or {}
            ]
    return warnings


def _check_unique(path: Path, ids: list[str], what: str, prefix: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise TaxonomyError(f"{prefix}: duplicate {what} '{item}'; ids must be unique")
        seen.add(item)


def _build_scheme(path: Path, scheme: _SchemeFile) -> Scheme:
    where = f"{path}, scheme '{scheme.id}'"
    if not ID_PATTERN.match(scheme.id):
        raise TaxonomyError(f"{where}: scheme id must match [a-z0-9_]+")
    ids = [code.id for code in scheme.codes]
    _check_unique(path, ids, "code id", prefix=where)
    for code in scheme.codes:
        if not ID_PATTERN.match(code.id):
            raise TaxonomyError(f"{where}, code '{code.id}': code id must match [a-z0-9_]+")
        if code.parent is not None and code.parent not in ids:
            raise TaxonomyError(
                f"{where}, code '{code.id}': parent '{code.parent}' is not a code of this scheme"
            )
    parents = {code.id: code.parent for code in scheme.codes}
    for code_id in ids:
        seen = {code_id}
        current = parents[code_id]
        while current is not None:
            if current in seen:
                raise TaxonomyError(f"{where}, code '{code_id}': parent chain loops at '{current}'")
            seen.add(current)
            current = parents[current]
    codes = tuple(
        Code(
            id=code.id,
            label=code.label,
            definition=" ".join(code.definition.split()),
            parent=code.parent,
            examples=tuple(code.examples),
            notes=" ".join(code.notes.split()) if code.notes else None,
            crosswalk=dict(code.crosswalk),
        )
        for code in scheme.codes
    )
    return Scheme(
        id=scheme.id,
        title=scheme.title,
        multi_label=scheme.multi_label,
        codes=codes,
        description=scheme.description,
    )
