from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.errors import InputError, TaxonomyError
from pipeline.taxonomy import format_taxonomy, load_taxonomy
from tests.conftest import TINY_TAXONOMY


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _base() -> dict:
    return yaml.safe_load(TINY_TAXONOMY)


def test_loads_tiny_taxonomy(tiny_taxonomy_file: Path) -> None:
    taxonomy = load_taxonomy(tiny_taxonomy_file)
    assert (taxonomy.name, taxonomy.version) == ("tiny", 2)
    assert taxonomy.scheme_ids == ("outcome", "cause")
    cause = taxonomy.scheme("cause")
    assert cause.leaf_ids == ("staffing", "it_design")
    assert cause.code("staffing").examples == ("short-staffed on reception",)
    assert taxonomy.scheme("outcome").multi_label is False
    assert taxonomy.warnings == ()


def test_format_shows_tree(tiny_taxonomy_file: Path) -> None:
    text = format_taxonomy(load_taxonomy(tiny_taxonomy_file), scheme="cause")
    assert "  - people: People\n    - staffing: Staffing" in text
    assert "outcome" not in text.split("\n", 1)[1]


def test_unknown_keys_warn_not_fail(tmp_path: Path) -> None:
    data = _base()
    data["owner"] = "ICS"
    data["schemes"][1]["codes"][1]["colour"] = "red"
    taxonomy = load_taxonomy(_write(tmp_path, data))
    assert any("unknown key 'owner'" in w for w in taxonomy.warnings)
    assert any("code 'staffing': unknown key 'colour'" in w for w in taxonomy.warnings)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["schemes"][1]["codes"].append(dict(d["schemes"][1]["codes"][2])),
            "scheme 'cause': duplicate code id 'it_design'",
        ),
        (lambda d: d["schemes"].append(dict(d["schemes"][0])), "duplicate scheme id 'outcome'"),
        (
            lambda d: d["schemes"][1]["codes"][1].update(parent="nobody"),
            "code 'staffing': parent 'nobody' is not a code of this scheme",
        ),
        (lambda d: d["schemes"][1]["codes"][0].update(parent="staffing"), "parent chain loops"),
        (
            lambda d: d["schemes"][1]["codes"][2].pop("definition"),
            "scheme 'cause', code 'it_design': field 'definition' is missing",
        ),
        (lambda d: d["schemes"][1]["codes"][2].update(id="IT Design"), "code id must match"),
        (lambda d: d.pop("version"), "field 'version' is missing"),
        (lambda d: d.update(version="one"), "field 'version'"),
        (
            lambda d: d["schemes"][0].pop("multi_label"),
            "scheme 'outcome': field 'multi_label' is missing",
        ),
    ],
)
def test_bad_files_name_file_scheme_and_code(tmp_path: Path, mutate, expected: str) -> None:
    data = _base()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="no such taxonomy file"):
        load_taxonomy(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nschemes: [\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="expected a mapping"):
        load_taxonomy(listed)


def test_check_codes(tiny_taxonomy_file: Path) -> None:
    taxonomy = load_taxonomy(tiny_taxonomy_file)
    taxonomy.check_codes({"outcome": ["near_miss"], "cause": []}, where="f, line 1")
    with pytest.raises(InputError, match="f, line 3: unknown scheme 'why'"):
        taxonomy.check_codes({"why": []}, where="f, line 3")
    with pytest.raises(InputError, match="code 'people' in scheme 'cause' is a grouping code"):
        taxonomy.check_codes({"cause": ["people"]}, where="f")
    with pytest.raises(InputError, match="code 'luck' in scheme 'cause' is unknown"):
        taxonomy.check_codes({"cause": ["luck"]}, where="f")
    with pytest.raises(InputError, match="single-label but has 2 codes"):
        taxonomy.check_codes({"outcome": ["near_miss", "incident"]}, where="f")


def test_shipped_gp_taxonomy_meets_the_contract(project_root: Path) -> None:
    taxonomy = load_taxonomy(project_root / "taxonomies" / "gp-near-miss" / "v1.yaml")
    assert (taxonomy.name, taxonomy.version, taxonomy.warnings) == ("gp-near-miss", 1, ())
    assert taxonomy.scheme_ids == (
        "outcome",
        "process",
        "contributory",
        "recovery",
        "recovery_agent",
    )
    assert taxonomy.scheme("outcome").leaf_ids == (
        "near_miss",
        "no_harm_incident",
        "harm_incident",
        "not_safety_event",
    )
    assert not taxonomy.scheme("outcome").multi_label
    assert len(taxonomy.scheme("process").leaf_ids) >= 10
    contributory = taxonomy.scheme("contributory")
    assert len(contributory.leaf_ids) >= 15
    groups = {c.id for c in contributory.codes} - set(contributory.leaf_ids)
    assert groups >= {
        "person",
        "task",
        "tools_technology",
        "organisation",
        "internal_environment",
        "external_environment",
        "patient",
    }
    recovery = taxonomy.scheme("recovery")
    assert len(recovery.leaf_ids) >= 8
    assert {"defence_overridden", "no_recovery_described"} <= set(recovery.leaf_ids)
    agent = taxonomy.scheme("recovery_agent")
    assert agent.leaf_ids == ("human", "designed")
    assert agent.code("human").label == "Relied on someone"
    assert agent.code("designed").label == "Designed defence"
    for scheme in taxonomy.schemes:
        for code in scheme.leaf_codes:
            assert len(code.definition.split()) >= 12, (scheme.id, code.id)
            assert code.examples, (scheme.id, code.id)
