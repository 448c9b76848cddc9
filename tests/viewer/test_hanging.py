"""Hanging: which image goes where and how it is flipped (Qt-free)."""

import pytest

from mammo_viewer.reading.hanging import ViewInfo, hang, orientation_flips, reading_order

# Orientations as a modality writes them when the image is stored "as acquired".
RCC = ViewInfo("rcc", "R", "CC", ("P", "L"))
LCC = ViewInfo("lcc", "L", "CC", ("A", "R"))
RMLO = ViewInfo("rmlo", "R", "MLO", ("P", "FL"))
LMLO = ViewInfo("lmlo", "L", "MLO", ("A", "FR"))


def test_standard_four_views_hang_right_left_cc_over_mlo_without_flips():
    hanging = hang([LMLO, RCC, LCC, RMLO], 4)
    assert (hanging.rows, hanging.columns) == (2, 2)
    assert [hanging.at(r, c).key for r in (0, 1) for c in (0, 1)] == ["rcc", "lcc", "rmlo", "lmlo"]
    assert not any(p.flip_horizontal or p.flip_vertical for p in hanging.placements)
    assert not hanging.notes


def test_images_stored_the_other_way_round_are_mirrored():
    # A right CC stored with the chest wall on the left ("A\\R") must be flipped horizontally;
    # a left MLO stored upside down (columns toward the head) must be flipped vertically.
    assert orientation_flips(ViewInfo("x", "R", "CC", ("A", "L")), "left")[:2] == (True, False)
    assert orientation_flips(ViewInfo("x", "L", "MLO", ("P", "HR")), "right")[:2] == (True, True)
    assert orientation_flips(ViewInfo("x", "R", "CC", ("P", "R")), "left")[:2] == (False, True)  # lateral side down
    assert orientation_flips(ViewInfo("x", "L", "CC", ("A", "L")), "right")[:2] == (False, True)


def test_missing_orientation_uses_the_chest_wall_read_from_the_pixels_and_says_so():
    flip_h, flip_v, notes = orientation_flips(ViewInfo("x", "L", "MLO", None, chest_wall_right=True), "right")
    assert flip_h and not flip_v and "read from the image" in notes[0]
    flip_h, _, notes = orientation_flips(ViewInfo("x", "L", "MLO", None), "right")
    assert not flip_h and "as stored" in notes[0]


def test_mlo_only_study_hangs_as_one_row():
    hanging = hang([RMLO, LMLO], 4)
    assert (hanging.rows, hanging.columns) == (1, 2)
    assert hanging.at(0, 0).key == "rmlo" and hanging.at(0, 1).key == "lmlo"


def test_one_breast_keeps_its_side_of_the_screen():
    hanging = hang([LCC, LMLO], 4)
    assert hanging.at(0, 0) is None and hanging.at(0, 1).key == "lcc" and hanging.at(1, 1).key == "lmlo"


def test_missing_tags_hang_anyway_in_a_free_slot_and_say_so():
    unknown_side = ViewInfo("u", None, "CC", None, chest_wall_right=False)
    hanging = hang([RCC, unknown_side, RMLO, LMLO], 4)
    placement = hanging.at(0, 1)
    assert placement.key == "u" and placement.label == "? CC"
    assert any("guessed" in n for n in placement.notes) and "u" in hanging.notes[0]
    # On the left breast's half its chest wall must face the middle, i.e. sit at its left edge: no flip.
    assert not placement.flip_horizontal
    nothing_known = ViewInfo("n", None, None, None)
    assert hang([nothing_known], 4).at(0, 0).key == "n"


def test_repeats_stay_reachable_in_one_up():
    repeat = ViewInfo("rcc2", "R", "CC", ("P", "L"))
    hanging = hang([RCC, repeat, LCC], 4)
    assert {p.key for p in hanging.placements} == {"rcc", "lcc"} and "1-up" in hanging.notes[0]
    keys = [hang([RCC, repeat, LCC], 1, page).placements[0].key for page in range(3)]
    assert keys == ["rcc", "lcc", "rcc2"]


def test_two_up_pages_are_the_cc_pair_then_the_mlo_pair():
    images = [RCC, LCC, RMLO, LMLO]
    first, second = hang(images, 2, 0), hang(images, 2, 1)
    assert first.pages == 2 and [p.key for p in first.placements] == ["rcc", "lcc"]
    assert [p.key for p in second.placements] == ["rmlo", "lmlo"]
    assert hang(images, 2, 2).placements == first.placements  # pages wrap


def test_one_up_walks_the_reading_order_and_mirrors_each_image_for_its_side():
    images = [LMLO, RMLO, LCC, RCC]
    assert [i.key for i in reading_order(images)] == ["rcc", "lcc", "rmlo", "lmlo"]
    flipped = ViewInfo("rmlo-stored-mirrored", "R", "MLO", ("A", "FR"))
    assert hang([flipped], 1).placements[0].flip_horizontal


def test_bad_layout_and_empty_study():
    with pytest.raises(ValueError):
        hang([RCC], 3)
    assert hang([], 4).placements == ()
