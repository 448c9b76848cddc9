"""A view repaints whenever what it shows moves: it asks for its own repaints (image_view.py,
NoViewportUpdate), so a way of moving it that forgot to would leave the old picture on screen."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtTest import QTest

from mammo_viewer.views.image_view import MammoView


class _Paints(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, watched, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.fixture
def view(qtbot):
    view = MammoView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    qtbot.waitExposed(view)
    image = (np.indices((800, 600)).sum(axis=0) % 256).astype(np.uint8)
    view.set_image("R_CC", image, flip_h=False, flip_v=False)
    view.apply_zoom(3.0)  # room to scroll every way
    view.setFocus()
    return view


MOVES = {
    "zoom": lambda v: v.apply_zoom(1.5),
    "pan": lambda v: v.apply_pan(30, 10),
    "arrow key": lambda v: QTest.keyClick(v, Qt.Key.Key_Right),
    "page down": lambda v: QTest.keyClick(v, Qt.Key.Key_PageDown),
    "scroll bar": lambda v: v.verticalScrollBar().setValue(v.verticalScrollBar().value() - 40),
    "centre on a point": lambda v: v.centerOn(100, 100),
    "fit": lambda v: v.fit(),
    "one to one": lambda v: v.one_to_one(),
    "contours": lambda v: v.set_contours([np.array([[10.0, 10.0], [50.0, 10.0], [50.0, 50.0], [10.0, 10.0]])]),
}


@pytest.mark.parametrize("move", MOVES)
def test_every_way_of_moving_a_view_repaints_it(view, qtbot, move):
    paints = _Paints()
    view.viewport().installEventFilter(paints)
    qtbot.wait(10)
    paints.count = 0

    def placed():
        return view.transform(), view.mapToScene(view.viewport().rect().center()), view.contour_item.path()

    before = placed()
    MOVES[move](view)
    assert placed() != before  # it did move
    qtbot.waitUntil(lambda: paints.count > 0, timeout=1000)
