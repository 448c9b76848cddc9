"""The lesion table: a hundred lesions at a low threshold, cells made for the rows in view."""

import numpy as np

from hds_core.findings.lesions import Lesion
from mammo_viewer.panels.findings_panel import FindingsPanel
from mammo_viewer.reading.reading_state import ReadingState
from mammo_viewer.reading.study import LesionRow


def _rows(count: int) -> list[LesionRow]:
    ring = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 0.0]])
    return [
        LesionRow("R_CC", "R CC", Lesion(i + 1, ring, 0.9 - i / 1000, 0.5, 10.0 + i, 3.0, (2.0, 2.0), (0, 0, 4, 4)))
        for i in range(count)
    ]


def _texts(panel: FindingsPanel) -> list[str | None]:
    table = panel.lesions
    return [None if table.item(r, 0) is None else table.item(r, 0).text() for r in range(table.rowCount())]


def test_every_lesion_has_a_row_and_the_rows_scrolled_to_get_their_cells(qtbot):
    panel = FindingsPanel(ReadingState())
    qtbot.addWidget(panel)
    panel.resize(300, 500)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_lesions(_rows(150))
    texts = _texts(panel)
    assert len(texts) == 150 and texts[0] == "R CC #1"
    made = [t is not None for t in texts]
    assert all(made[: made.index(False)]) and not any(made[made.index(False) :])  # the rows in view, and a page
    panel.lesions.scrollToBottom()
    qtbot.waitUntil(lambda: panel.lesions.item(149, 0) is not None)
    assert panel.lesions.item(149, 0).text() == "R CC #150"
    assert panel.lesions.item(149, 1).text() == "159.0"

    panel.set_lesions(_rows(3))  # fewer lesions: no cell of the hundred and fifty is left over
    assert _texts(panel) == ["R CC #1", "R CC #2", "R CC #3"]
    panel.set_lesions([])
    assert panel.lesions.rowCount() == 0
