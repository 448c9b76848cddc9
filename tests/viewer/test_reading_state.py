"""The reading state without widgets (mammo_viewer/reading/reading_state.py): what the reader chose,
its checks, and who is told of a change (and who is not)."""

import pytest

from mammo_viewer.reading.reading_state import MAX_THRESHOLD, MIN_THRESHOLD, ReadingState


def test_a_change_is_told_once_and_the_same_value_is_not_a_change():
    state = ReadingState()
    seen = []
    state.observe("threshold", seen.append)
    state.threshold = 0.3
    state.threshold = 0.3  # a widget writing back what it was told: nobody is called again
    state.threshold = 0.7
    assert seen == [0.3, 0.7] and state.threshold == 0.7


def test_values_are_held_to_their_ranges():
    state = ReadingState()
    state.threshold = 5
    assert state.threshold == MAX_THRESHOLD
    state.threshold = -1
    assert state.threshold == MIN_THRESHOLD
    state.heat_opacity = 3
    assert state.heat_opacity == 1.0
    with pytest.raises(ValueError, match="layout"):
        state.layout = 3
    with pytest.raises(AttributeError, match="no field"):
        state.observe("thresold", print)


def test_the_model_default_and_reset():
    state = ReadingState(threshold=0.5)
    assert not state.at_default()  # no weights yet: "(model default)" would mean nothing
    told = []
    state.observe("threshold", told.append)
    state.set_model(0.4)
    assert state.threshold == 0.4 and state.at_default() and told == [0.4]
    state.threshold = 0.8
    state.reset_threshold()
    assert state.threshold == 0.4 and told == [0.4, 0.8, 0.4]


def test_overlays_layout_selection_and_inversion_are_observed_each_on_its_own():
    state = ReadingState(contours=True, heat_map=False, heat_opacity=0.5, layout=4)
    log = []
    for name in ("contours", "heat_map", "heat_opacity", "layout", "selected", "invert"):
        state.observe(name, lambda value, name=name: log.append((name, value)))
    state.contours = False
    state.heat_map = True
    state.heat_opacity = 0.3
    state.layout = 1
    state.selected = "L_CC"
    state.invert = not state.invert
    assert log == [
        ("contours", False),
        ("heat_map", True),
        ("heat_opacity", 0.3),
        ("layout", 1),
        ("selected", "L_CC"),
        ("invert", True),
    ]


def test_windows_a_reader_chose_are_told_per_image_and_forgotten_with_the_study():
    state = ReadingState()
    changed = []
    state.observe_windows(changed.append)
    state.set_window("R_CC", "preset A")
    state.set_window("L_CC", "preset B", chosen=False)
    assert changed == ["R_CC", "L_CC"] and state.windows == {"R_CC": "preset A", "L_CC": "preset B"}
    assert state.chosen == {"R_CC"}  # only the reader's choice is labelled on the view
    state.forget_windows()
    assert state.windows == {} and state.chosen == set()
