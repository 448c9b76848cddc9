"""How the main window is put together: its docks, its menus and their shortcuts (the
README lists them), the recent-folders menu and the open dialogs. Each builder returns what
it made (:class:`Docks`, :class:`Menus`); the window keeps what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QListWidget, QMenu, QScrollArea

from hds_core.text import printable

from ..pacs.panel import PacsPanel
from ..views.stack_navigation import SLAB_THICKNESSES_MM
from .model_input import ModelInputPane
from .reading_panel import ReadingPanel
from .study_browser import StudyBrowser
from .worklist_panel import WorklistPanel

THUMBNAIL_HEIGHT = 96
MAX_RECENT = 8


@dataclass
class Docks:
    browser: StudyBrowser
    problems: QListWidget
    problems_dock: QDockWidget
    model_input: ModelInputPane
    model_input_dock: QDockWidget
    pacs: PacsPanel
    pacs_dock: QDockWidget
    reading: ReadingPanel
    reading_dock: QDockWidget
    worklist: WorklistPanel
    worklist_dock: QDockWidget


def build_docks(w, findings, hide_phi: bool, node_book=None) -> Docks:
    """Studies, the PACS search and "what the model saw" on the left, AI findings on the right,
    problems below."""

    def dock(title, widget, area, visible=True):
        made = QDockWidget(title, w)
        made.setObjectName(title)
        made.setWidget(widget)
        w.addDockWidget(area, made)
        made.setVisible(visible)
        return made

    browser = StudyBrowser(THUMBNAIL_HEIGHT)
    browser.hide_phi = hide_phi
    studies_dock = dock("Studies", browser, Qt.DockWidgetArea.LeftDockWidgetArea)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(findings)
    findings_dock = dock("AI findings", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
    reading = ReadingPanel()
    reading_dock = dock("Reading", reading, Qt.DockWidgetArea.RightDockWidgetArea)
    w.tabifyDockWidget(findings_dock, reading_dock)  # a tab beside the AI's: hers
    findings_dock.raise_()
    problems = QListWidget()
    problems_dock = dock("Problems", problems, Qt.DockWidgetArea.BottomDockWidgetArea, False)
    model_input = ModelInputPane()
    model_input_dock = dock("What the model saw", model_input, Qt.DockWidgetArea.LeftDockWidgetArea, False)
    pacs = PacsPanel(node_book)
    pacs_dock = dock("PACS", pacs, Qt.DockWidgetArea.LeftDockWidgetArea, False)
    w.tabifyDockWidget(studies_dock, pacs_dock)  # a tab beside the studies: the full height for results
    worklist = WorklistPanel()
    worklist.hide_phi = hide_phi
    worklist_dock = dock("Worklist", worklist, Qt.DockWidgetArea.LeftDockWidgetArea, False)
    w.tabifyDockWidget(studies_dock, worklist_dock)
    return Docks(
        browser,
        problems,
        problems_dock,
        model_input,
        model_input_dock,
        pacs,
        pacs_dock,
        reading,
        reading_dock,
        worklist,
        worklist_dock,
    )


def remember_recent(settings, menu: QMenu, open_path, path: str) -> None:
    settings.setValue("last_folder", path if Path(path).is_dir() else str(Path(path).parent))
    recent = [p for p in settings.value("recent", [], type=list) if p != path]
    if printable(path) == path:  # QSettings cannot store a non-UTF-8 path: it is not remembered
        settings.setValue("recent", [path, *recent][:MAX_RECENT])
    refresh_recent(settings, menu, open_path)


def refresh_recent(settings, menu: QMenu, open_path) -> None:
    menu.clear()
    for path in settings.value("recent", [], type=list):
        menu.addAction(path, lambda p=path: open_path(p))
    menu.setEnabled(bool(menu.actions()))


def choose_folder(w) -> None:
    folder = QFileDialog.getExistingDirectory(w, "Open folder", str(w.settings.value("last_folder", "")))
    if folder:
        w.open_path(folder)


def choose_worklist(w) -> None:
    """An hds-batch results table (results.parquet, or the folder it is in)."""
    path, _ = QFileDialog.getOpenFileName(
        w, "Open worklist", str(w.settings.value("last_folder", "")), "hds-batch results (results.parquet *.parquet)"
    )
    if path:
        w.open_worklist(path)


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


@dataclass
class Menus:
    recent_menu: QMenu
    layout_actions: dict[int, QAction]
    magnifier_action: QAction
    phi_action: QAction
    contours_action: QAction
    heat_action: QAction
    prior_menu: QMenu
    protocol_menu: QMenu


def build_menus(w) -> Menus:
    """File, View and AI menus of MainWindow ``w`` (their actions call the window, its grid
    and its reading state); returns the actions other code keeps in step."""
    bar, grid, state = w.menuBar(), w.grid, w.state

    def act(menu, *args, **kwargs):
        return add_action(w, menu, *args, **kwargs)

    file_menu = bar.addMenu("&File")
    act(file_menu, "Open &folder…", lambda: choose_folder(w), QKeySequence.StandardKey.Open)
    act(file_menu, "Open f&ile…", lambda: choose_file(w), "Ctrl+Shift+O")
    recent_menu = file_menu.addMenu("Open &recent")
    refresh_recent(w.settings, recent_menu, w.open_path)
    file_menu.addSeparator()
    act(file_menu, "Open &worklist…", lambda: choose_worklist(w), "Ctrl+Shift+W")
    act(file_menu, "Next study in the worklist", lambda: w.worklist.step(1), "Ctrl+Shift+Down")
    act(file_menu, "Previous study in the worklist", lambda: w.worklist.step(-1), "Ctrl+Shift+Up")
    act(file_menu, "&Export report (PDF)…", lambda: w.exports.report(w.export_request()), "Ctrl+E")
    act(file_menu, "Export DICOM &SEG, SRs and PDF…", lambda: w.exports.dicom(w.export_request()), "Ctrl+Shift+E")
    act(file_menu, "Send results to &PACS…", w.pacs.send_results, "Ctrl+Shift+S")
    file_menu.addSeparator()
    act(file_menu, "Search the PAC&S…", w.pacs.show, "Ctrl+F")
    act(file_menu, "DICOM &nodes…", w.pacs.edit_nodes)
    file_menu.addSeparator()
    act(file_menu, "&Quit", w.close, QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu("&View")
    group = QActionGroup(w)
    layout_actions = {}
    for mode, text in ((4, "&4-up (CC over MLO)"), (2, "&2-up (one pair)"), (1, "&1-up")):
        action = act(
            view_menu,
            text,
            lambda checked, m=mode: checked and w.set_layout(m),
            LAYOUT_KEYS[mode],
            checkable=True,
            checked=mode == state.layout,
        )
        group.addAction(action)
        layout_actions[mode] = action
    protocol_menu = view_menu.addMenu("Hanging &protocol")
    protocol_menu.aboutToShow.connect(lambda: fill_protocol_menu(w, protocol_menu))
    act(view_menu, "Next page or stage", lambda: w.turn_page(1), "Space")
    act(view_menu, "Previous page or stage", lambda: w.turn_page(-1), "Backspace")
    prior_menu = view_menu.addMenu("Pri&or")
    slices = view_menu.addMenu("Tomosynthesis &slices")
    for text, step, key in (
        ("Next slice", 1, "Down"),
        ("Previous slice", -1, "Up"),
        ("Ten slices on", 10, "PgDown"),
        ("Ten slices back", -10, "PgUp"),
        ("Last slice", 10_000, "End"),
        ("First slice", -10_000, "Home"),
    ):
        action = act(slices, text, lambda _=False, step=step: grid.step_slices(step), key)
        # Only while the hanging has the focus: the arrows keep moving through the lists.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        grid.addAction(action)
    slices.addSeparator()
    cine_action = act(slices, "&Cine (play back and forth)", grid.set_cine, "Ctrl+Space", checkable=True)
    act(slices, "Cine faster", lambda: grid.cine_speed(1), "]")
    act(slices, "Cine slower", lambda: grid.cine_speed(-1), "[")
    slices.addSeparator()
    slab_group = QActionGroup(w)
    slab_actions = {}
    for thickness in SLAB_THICKNESSES_MM:
        text = f"Slab {thickness:g} mm" if thickness else "One slice (no slab)"
        action = act(
            slices,
            text,
            lambda on, t=thickness: on and setattr(state, "slab_mm", t),
            checkable=True,
            checked=thickness == state.slab_mm,
        )
        slab_group.addAction(action)
        slab_actions[thickness] = action
    state.observe("slab_mm", lambda mm: mm in slab_actions and slab_actions[mm].setChecked(True))
    act(slices, "Slab thicker", lambda: grid.slab_step(1), "Ctrl+]")
    act(slices, "Slab thinner", lambda: grid.slab_step(-1), "Ctrl+[")
    mip_action = act(
        slices, "Slab by &maximum (MIP), not average", lambda on: setattr(state, "slab_mip", on), "Ctrl+M",
        checkable=True, checked=state.slab_mip,
    )  # fmt: skip
    state.observe("slab_mip", mip_action.setChecked)
    link_action = act(
        slices, "&Link a breast's views by depth", lambda on: setattr(state, "depth_link", on), "Ctrl+D",
        checkable=True, checked=state.depth_link,
    )  # fmt: skip
    state.observe("depth_link", link_action.setChecked)
    grid.cine_changed.connect(cine_action.setChecked)
    view_menu.addSeparator()
    act(view_menu, "&Fit", lambda: [v.fit() for v in grid.views], "F")
    act(view_menu, "1:1 pixels", lambda: [v.one_to_one() for v in grid.views], "Ctrl+1")
    magnifier_action = act(view_menu, "&Magnifier", grid.set_magnifier, "M", checkable=True)
    view_menu.addSeparator()
    act(view_menu, "&Invert", grid.toggle_invert, "I")
    for n in range(1, 6):
        act(view_menu, f"Window preset {n}", lambda _=False, n=n: grid.apply_preset(n - 1), str(n))
    view_menu.addSeparator()
    phi_action = act(view_menu, "&Hide patient details", w.set_hide_phi, "P", checkable=True, checked=w.hide_phi)
    act(
        view_menu, "What the model &saw", lambda: w.model_input_dock.setVisible(not w.model_input_dock.isVisible()), "W"
    )
    act(view_menu, "Problems list", lambda: w.problems_dock.setVisible(not w.problems_dock.isVisible()))

    ai_menu = bar.addMenu("&AI")
    contours_action = act(
        ai_menu, "&Contours", lambda on: setattr(state, "contours", on), "C", checkable=True, checked=state.contours
    )
    heat_action = act(
        ai_menu, "&Heat map", lambda on: setattr(state, "heat_map", on), "H", checkable=True, checked=state.heat_map
    )
    act(ai_menu, "&Reset threshold", state.reset_threshold, "R")
    act(ai_menu, "Ca&ncel analysis", w.cancel_analysis, "Esc")
    act(ai_menu, "Analyse &again", w.reanalyse, "Ctrl+R")
    act(ai_menu, "Pixel &spacing of this study…", w.ask_study_spacing, "Ctrl+Shift+P")

    # Readin&g, not &Reading: Alt+R assesses the right breast (and Alt+A would open &AI: the
    # compositions a-d are Alt+1-4).
    reading_menu = bar.addMenu("Readin&g")
    act(reading_menu, "Show the reading", lambda: (w.reading_dock.show(), w.reading_dock.raise_()), "Alt+0")
    act(reading_menu, "Indication…", lambda: _focus(w, w.reading_panel.indication), "Alt+N")
    for number, letter in enumerate("abcd", 1):
        act(
            reading_menu,
            f"Breast composition {letter}",
            lambda _=False, x=letter: w.set_composition(x),
            f"Alt+{number}",
        )
    for text, key, box in (
        ("Assess the right breast…", "Alt+R", "R"),
        ("Assess the left breast…", "Alt+L", "L"),
        ("Assess the exam…", "Alt+E", "exam"),
    ):
        act(reading_menu, text, lambda _=False, b=box: _focus(w, w.reading_panel.assessments[b]), key)
    act(reading_menu, "Management…", lambda: _focus(w, w.reading_panel.management), "Alt+M")
    act(reading_menu, "Impression…", lambda: _focus(w, w.reading_panel.impression), "Alt+I")
    reading_menu.addSeparator()
    act(reading_menu, "Mark a finding (then click it)", lambda: w.mark_finding(), "N")
    act(reading_menu, "Mark the selected finding on another view", lambda: w.mark_finding(link=True), "Shift+N")
    act(reading_menu, "Accept the selected AI mark", lambda: w.decide_ai_mark("accepted"), "A")
    act(reading_menu, "Dismiss the selected AI mark", lambda: w.decide_ai_mark("dismissed"), "X")
    reading_menu.addSeparator()
    act(reading_menu, "Sign off", w.sign_reading, "Ctrl+Shift+Return")
    act(reading_menu, "Addendum", w.amend_reading, "Ctrl+Shift+A")

    help_menu = bar.addMenu("&Help")
    act(help_menu, "Keyboard shortcuts", lambda: show_key_table(w), "F1")
    return Menus(
        recent_menu,
        layout_actions,
        magnifier_action,
        phi_action,
        contours_action,
        heat_action,
        prior_menu,
        protocol_menu,
    )


def _focus(w, widget) -> None:
    """Bring the reading forward with ``widget`` ready for the keyboard."""
    w.reading_dock.show()
    w.reading_dock.raise_()
    widget.setFocus()
    if hasattr(widget, "showPopup"):
        widget.showPopup()


def key_table(w) -> list[tuple[str, str, str]]:
    """(menu, action, key) of every action with a key, as the menus hold them: the Help
    menu's table and the README's are this one."""
    rows = []

    def walk(menu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} > {action.menu().title().replace('&', '')}")
            elif not action.isSeparator() and not action.shortcut().isEmpty():
                rows.append((path, action.text().replace("&", ""), action.shortcut().toString()))

    for top in w.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), top.menu().title().replace("&", ""))
    return rows


KEY_TABLE_START, KEY_TABLE_END = "<!-- key table: Help > Keyboard shortcuts -->", "<!-- end of key table -->"


def key_table_markdown(w) -> str:
    """The key table as the README prints it (tests/project checks that they agree)."""
    lines = ["| menu | action | key |", "|---|---|---|"]
    lines += [f"| {menu} | {action} | {key} |" for menu, action, key in key_table(w)]
    return "\n".join(lines)


def show_key_table(w) -> None:
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout

    dialog = QDialog(w)
    dialog.setWindowTitle("Keyboard shortcuts")
    rows = key_table(w)
    table = QTableWidget(len(rows), 3, dialog)
    table.setHorizontalHeaderLabels(["Menu", "Action", "Key"])
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.resize(720, 560)
    dialog.open()
    w.key_table_dialog = dialog


def fill_protocol_menu(w, menu: QMenu) -> None:
    """The protocols (those that do not apply to the study on screen greyed), and the folder
    of the reader's own."""
    menu.clear()
    grid = w.grid
    facts = grid.study_facts()
    for protocol in grid.protocols:
        action = menu.addAction(protocol.name)
        action.setCheckable(True)
        action.setChecked(grid.protocol is protocol)
        action.setEnabled(grid.study is None or protocol.applies(**facts))
        action.triggered.connect(lambda _=False, p=protocol: grid.use_protocol(p))
    menu.addSeparator()
    folder = w.protocols_folder()
    reload = menu.addAction(f"Reload (your own: {folder})")
    reload.triggered.connect(lambda: (w.load_protocols(), grid.use_protocol(None)))
