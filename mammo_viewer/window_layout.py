"""How the main window is put together: its docks, its menus and their shortcuts (the
README lists them), the recent-folders menu and the open dialogs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QListWidget, QScrollArea

from hds_core.text import printable

from .model_input import ModelInputPane
from .study_browser import StudyBrowser

THUMBNAIL_HEIGHT = 96
MAX_RECENT = 8


def build_docks(w) -> None:
    """Studies and "what the model saw" on the left, AI findings on the right, problems below."""

    def dock(title, widget, area, visible=True):
        made = QDockWidget(title, w)
        made.setObjectName(title)
        made.setWidget(widget)
        w.addDockWidget(area, made)
        made.setVisible(visible)
        return made

    w.browser = StudyBrowser(THUMBNAIL_HEIGHT)
    w.browser.hide_phi = w.hide_phi
    w.browser_dock = dock("Studies", w.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(w.findings)
    w.findings_dock = dock("AI findings", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
    w.problems = QListWidget()
    w.problems_dock = dock("Problems", w.problems, Qt.DockWidgetArea.BottomDockWidgetArea, False)
    w.model_input = ModelInputPane()
    w.model_input_dock = dock("What the model saw", w.model_input, Qt.DockWidgetArea.LeftDockWidgetArea, False)


def remember_recent(w, path: str) -> None:
    w.settings.setValue("last_folder", path if Path(path).is_dir() else str(Path(path).parent))
    recent = [p for p in w.settings.value("recent", [], type=list) if p != path]
    if printable(path) == path:  # QSettings cannot store a non-UTF-8 path: it is not remembered
        w.settings.setValue("recent", [path, *recent][:MAX_RECENT])
    refresh_recent(w)


def refresh_recent(w) -> None:
    w.recent_menu.clear()
    for path in w.settings.value("recent", [], type=list):
        w.recent_menu.addAction(path, lambda p=path: w.open_path(p))
    w.recent_menu.setEnabled(bool(w.recent_menu.actions()))


def choose_folder(w) -> None:
    folder = QFileDialog.getExistingDirectory(w, "Open folder", str(w.settings.value("last_folder", "")))
    if folder:
        w.open_path(folder)


def choose_file(w) -> None:
    path, _ = QFileDialog.getOpenFileName(
        w,
        "Open mammogram",
        str(w.settings.value("last_folder", "")),
        "Mammograms (*.dcm *.DCM *.png *.pgm *.tif *.tiff);;All files (*)",
    )
    if path:
        w.open_path(path)


LAYOUT_KEYS = {4: "Q", 2: "D", 1: "S"}  # quad, dual, single


def add_action(window, menu, text: str, slot, shortcut=None, checkable: bool = False, checked: bool = False) -> QAction:
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    if checkable:
        action.setChecked(checked)
        action.toggled.connect(slot)
    else:
        action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(w) -> None:
    """File, View and AI menus of MainWindow ``w``; sets the actions other code toggles."""
    bar, grid, findings = w.menuBar(), w.grid, w.findings

    def act(menu, *args, **kwargs):
        return add_action(w, menu, *args, **kwargs)

    file_menu = bar.addMenu("&File")
    act(file_menu, "Open &folder…", lambda: choose_folder(w), QKeySequence.StandardKey.Open)
    act(file_menu, "Open f&ile…", lambda: choose_file(w), "Ctrl+Shift+O")
    w.recent_menu = file_menu.addMenu("Open &recent")
    refresh_recent(w)
    file_menu.addSeparator()
    act(file_menu, "&Export report (PDF)…", w.exports.report, "Ctrl+E")
    act(file_menu, "Export DICOM &SEG and SR…", w.exports.dicom, "Ctrl+Shift+E")
    file_menu.addSeparator()
    act(file_menu, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu("&View")
    group = QActionGroup(w)
    w.layout_actions = {}
    for mode, text in ((4, "&4-up (CC over MLO)"), (2, "&2-up (one pair)"), (1, "&1-up")):
        action = act(
            view_menu,
            text,
            lambda checked, m=mode: checked and w.set_layout(m),
            LAYOUT_KEYS[mode],
            checkable=True,
            checked=mode == grid.layout_mode,
        )
        group.addAction(action)
        w.layout_actions[mode] = action
    act(view_menu, "Next page", lambda: w.turn_page(1), "Space")
    act(view_menu, "Previous page", lambda: w.turn_page(-1), "Backspace")
    view_menu.addSeparator()
    act(view_menu, "&Fit", lambda: [v.fit() for v in grid.views], "F")
    act(view_menu, "1:1 pixels", lambda: [v.one_to_one() for v in grid.views], "Ctrl+1")
    w.magnifier_action = act(view_menu, "&Magnifier", grid.set_magnifier, "M", checkable=True)
    view_menu.addSeparator()
    act(view_menu, "&Invert", grid.toggle_invert, "I")
    for n in range(1, 6):
        act(view_menu, f"Window preset {n}", lambda _=False, n=n: grid.apply_preset(n - 1), str(n))
    view_menu.addSeparator()
    w.phi_action = act(view_menu, "&Hide patient details", w.set_hide_phi, "P", checkable=True, checked=w.hide_phi)
    act(
        view_menu, "What the model &saw", lambda: w.model_input_dock.setVisible(not w.model_input_dock.isVisible()), "W"
    )
    act(view_menu, "Problems list", lambda: w.problems_dock.setVisible(not w.problems_dock.isVisible()))

    ai_menu = bar.addMenu("&AI")
    w.contours_action = act(
        ai_menu,
        "&Contours",
        findings.contours_box.setChecked,
        "C",
        checkable=True,
        checked=w.settings.value("contours", True, type=bool),
    )
    w.heat_action = act(
        ai_menu,
        "&Heat map",
        findings.heat_box.setChecked,
        "H",
        checkable=True,
        checked=w.settings.value("heat_map", False, type=bool),
    )
    act(ai_menu, "&Reset threshold", findings.reset_threshold, "R")
    act(ai_menu, "Ca&ncel analysis", w.cancel_analysis, "Esc")
    act(ai_menu, "Analyse &again", w.reanalyse, "Ctrl+R")
    findings.contours_box.setChecked(w.contours_action.isChecked())
    findings.heat_box.setChecked(w.heat_action.isChecked())
    findings.opacity.setValue(int(w.settings.value("heat_opacity", 50)))
