"""Where a mark lies, as a report says it (issue 41): clock face, depth third and distance from
the nipple on synthetic breasts of both lateralities and both views, the chest wall on either
side of the image, read with Patient Orientation."""

import pytest
from synthetic import phantom

from hds_core.findings.location import breast_frame, clock_face, locate, quadrant
from hds_core.io import breast_mask

SPACING = (0.1, 0.1)


def frame_of(chest_wall: str, orientation, family: str, scale: int = 1):
    pixels, _ = phantom((400, 300), mass=False, chest_wall=chest_wall)
    return breast_frame(breast_mask(pixels[::scale, ::scale]), scale, SPACING, orientation, family)


@pytest.mark.parametrize("chest_wall", ["left", "right"])
@pytest.mark.parametrize("scale", [1, 4])
def test_the_nipple_is_the_breasts_far_point_and_distances_are_in_mm(chest_wall, scale):
    frame = frame_of(chest_wall, ("A", "L"), "CC", scale)
    nx, ny = frame.nipple_xy
    far = 0.8 * 300 if chest_wall == "left" else 299 - 0.8 * 300  # the phantom's half-ellipse
    assert abs(nx - far) <= 2 * scale and abs(ny - 199.5) <= 2 * scale
    toward_chest = -1 if chest_wall == "left" else 1
    spot = locate(frame, nx + toward_chest * 100, ny + 75)  # 100 and 75 pixels: 12.5 mm
    assert spot.nipple_distance_mm == pytest.approx(12.5, abs=0.01)
    assert locate(frame, nx + toward_chest * 60, ny).third == "anterior"  # the breast is 240 pixels deep
    assert locate(frame, nx + toward_chest * 120, ny).third == "middle"
    assert locate(frame, nx + toward_chest * 200, ny).third == "posterior"


@pytest.mark.parametrize("laterality", ["R", "L"])
def test_clock_face_and_quadrant_for_both_breasts_from_cc_and_mlo(laterality):
    chest = "left" if laterality == "R" else "right"
    cc = frame_of(chest, ("A", "L"), "CC")  # rows run toward the woman's left
    mlo = frame_of(chest, ("A", "F"), "MLO")  # rows run toward her feet
    nx, ny = cc.nipple_xy
    on_cc = locate(cc, nx, ny + 150)  # 15 mm toward her left
    assert on_cc.left_mm == pytest.approx(15.0, abs=0.6) and on_cc.up_mm is None
    mx, my = mlo.nipple_xy
    on_mlo = locate(mlo, mx, my - 150)  # 15 mm toward her head
    assert on_mlo.up_mm == pytest.approx(15.0, abs=0.6) and on_mlo.left_mm is None
    # Facing her: her left is 3 o'clock, up is 12; between them, 1:30 (rounded to 2 o'clock).
    assert clock_face(on_cc.left_mm, None) == "3 o'clock"
    assert clock_face(None, on_mlo.up_mm) == "12 o'clock"
    assert clock_face(on_cc.left_mm, on_mlo.up_mm) == "2 o'clock"
    assert clock_face(-on_cc.left_mm, -on_mlo.up_mm) == "8 o'clock"
    assert clock_face(1.0, -2.0) == "retroareolar"
    # Her left is the left breast's outer side and the right breast's inner side.
    assert quadrant(laterality, on_cc.left_mm, on_mlo.up_mm) == ("upper outer" if laterality == "L" else "upper inner")
    assert quadrant(laterality, -on_cc.left_mm, None) == ("inner" if laterality == "L" else "outer")


def test_without_orientation_or_spacing_only_the_depth_is_said():
    pixels, _ = phantom((400, 300), mass=False)
    frame = breast_frame(breast_mask(pixels), 1, None, None, "CC")
    spot = locate(frame, *frame.nipple_xy)
    assert spot.third == "anterior" and spot.nipple_distance_mm is None and spot.left_mm is None
    assert clock_face(spot.left_mm, spot.up_mm) is None
