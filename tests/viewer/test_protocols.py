"""Hanging protocols as data (issue 39, point 3): the shipped defaults, a reader's own file
overriding one by name, and every fault of a broken file named by file, line and field."""

import pytest

import resources
from mammo_viewer.reading.hanging import ViewInfo, hang_stage
from mammo_viewer.reading.protocols import (
    ProtocolError,
    combine,
    find,
    first_applicable,
    load_protocols,
    read_protocols,
)

DEFAULT_NAMES = [
    "8-up current + prior",
    "current vs prior CC",
    "current vs prior MLO",
    "4-up current",
    "single views by breast",
    "DBT current + prior",
    "DBT screening",
]


def _defaults():
    return read_protocols(resources.default_protocols())


def _study(prefix: str, views=(("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))):
    # Right breasts' chest wall on the right of the stored image: rows run nipple to back.
    return [ViewInfo(f"{prefix}{s}{v}", s, v, ("P" if s == "R" else "A", "L")) for s, v in views]


def test_the_shipped_protocols_and_which_one_a_study_opens_with():
    protocols = _defaults()
    assert [p.name for p in protocols] == DEFAULT_NAMES
    facts = {"modalities": {"MG"}, "families": {"CC", "MLO"}}
    assert first_applicable(protocols, **facts, has_prior=True).name == "8-up current + prior"
    assert first_applicable(protocols, **facts, has_prior=False).name == "4-up current"
    assert first_applicable(protocols, modalities={"CT"}, families=set(), has_prior=False) is None
    # A tomosynthesis study: the DBT protocols, never the 2-D ones.
    assert first_applicable(protocols, **facts, has_prior=True, dbt=True).name == "DBT current + prior"
    assert first_applicable(protocols, **facts, has_prior=False, dbt=True).name == "DBT screening"
    assert [s.name for s in find(protocols, "Single views by breast").stages] == ["R CC", "R MLO", "L CC", "L MLO"]
    with pytest.raises(ProtocolError, match="the protocols are: 8-up current"):
        find(protocols, "9-up")


def test_a_stage_takes_each_image_of_its_date_breast_and_view():
    eight = find(_defaults(), "8-up current + prior")
    hanging = hang_stage(eight, 0, _study("now-"), _study("then-"))
    cells = {(p.row, p.column): (p.study, p.key) for p in hanging.placements}
    assert (hanging.rows, hanging.columns) == (2, 4)
    assert cells[(0, 0)] == ("prior", "then-RCC") and cells[(0, 3)] == ("current", "now-LCC")
    assert cells[(1, 2)] == ("current", "now-RMLO")
    # Chest walls to the middle of each pair: a right breast stored chest wall right stays so.
    flips = {p.key: p.flip_horizontal for p in hanging.placements}
    assert not flips["now-RCC"] and not flips["then-LCC"]
    assert {p.link for p in hanging.placements} == {"CC", "MLO"}
    # Without a prior its viewports stay empty; an MLO-only study loses the empty CC row.
    alone = hang_stage(eight, 0, _study("now-", (("R", "MLO"), ("L", "MLO"))))
    assert alone.rows == 1 and {(p.row, p.column, p.study) for p in alone.placements} == {
        (0, 2, "current"),
        (0, 3, "current"),
    }


def _write(tmp_path, text: str, name="mine.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[protocol]]
name = "4-up current"
priors = "any"

[[protocol.stage]]
name = "MLO only"
rows = 1
columns = 2

[[protocol.stage.viewport]]
laterality = "R"
view = "MLO"

[[protocol.stage.viewport]]
laterality = "L"
view = "MLO"
"""


def test_a_readers_own_protocol_overrides_the_default_of_its_name_and_is_tried_first(tmp_path):
    folder = tmp_path / "protocols"
    folder.mkdir()
    _write(folder, GOOD)
    protocols, faults = load_protocols(resources.default_protocols(), folder)
    assert faults == []
    assert [p.name for p in protocols][:2] == ["4-up current", "8-up current + prior"]
    assert len([p for p in protocols if p.name == "4-up current"]) == 1
    assert protocols[0].stages[0].name == "MLO only" and protocols[0].source.endswith("mine.toml")
    assert combine(_defaults(), []) == _defaults()


@pytest.mark.parametrize(
    ("change", "line", "field", "problem"),
    [
        (
            (
                'view = "MLO"\n\n[[protocol.stage.viewport]]',
                'view = "MLO"\nlateralty = "L"\n\n[[protocol.stage.viewport]]',
            ),
            14,
            "protocol 1, stage 1, viewport 1, field 'lateralty'",
            "unknown field",
        ),
        (
            ('laterality = "L"', 'laterality = "left"'),
            16,
            "protocol 1, stage 1, viewport 2, field 'laterality'",
            "'left' is not one of 'R', 'L'",
        ),
        (("rows = 1", "rows = 0"), 8, "protocol 1, stage 1, field 'rows'", "whole number from 1 to 4"),
        (("columns = 2", "columns = 1"), 6, "protocol 1, stage 1, field 'viewport'", "do not fit 1 x 1"),
        (('priors = "any"', 'priors = "some"'), 4, "protocol 1, field 'priors'", "'some' is not one of"),
        (('name = "4-up current"', 'name = "4-up current'), 3, None, "not valid TOML"),
    ],
)
def test_every_fault_of_a_broken_file_is_named_by_file_line_and_field(tmp_path, change, line, field, problem):
    path = _write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ProtocolError) as raised:
        read_protocols(path)
    fault = raised.value
    assert (fault.path, fault.line, fault.field) == (path, line, field), str(fault)
    assert problem in fault.problem and str(fault).startswith(f"{path}:{line}: ")


def test_a_broken_file_of_the_readers_is_left_out_and_the_others_load(tmp_path):
    folder = tmp_path / "protocols"
    folder.mkdir()
    _write(folder, GOOD.replace('view = "MLO"', 'view = "LAT"', 1), "broken.toml")
    _write(folder, GOOD.replace('name = "4-up current"', 'name = "mine"'), "fine.toml")
    protocols, faults = load_protocols(resources.default_protocols(), folder)
    defaults, _ = load_protocols(resources.default_protocols(), None)
    assert [p.name for p in protocols][0] == "mine" and len(protocols) == len(defaults) + 1
    assert len(faults) == 1 and "broken.toml:13" in str(faults[0]) and "'LAT' is not one of" in str(faults[0])
