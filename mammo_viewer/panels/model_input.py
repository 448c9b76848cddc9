""" "What the model saw": the network's input for the selected view (breast crop at the
weights' working spacing, chest wall turned left, z-scored), prepared on a worker."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..pictures.view_pictures import gray_pixmap


class ModelInputPane(QWidget):
    def __init__(self):
        super().__init__()
        layout = QVBoxLayout(self)
        self.image = QLabel("Select a view to see the network's input")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(220)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.notes)

    def show_input(self, item, predictor, worker) -> None:
        """``item``: a decoded StudyImage; ``predictor``: the loaded engine (None while loading)."""
        if item is None or item.image is None:
            return
        if predictor is None:  # the model input depends on the weights' working spacing
            self.notes.setText("The AI model is not loaded yet.")
            return
        image, spacing = item.model_image or item.image, predictor.spec.working_spacing_mm

        def show(working) -> None:
            shown = np.clip((working.image + 2.0) / 5.0, 0.0, 1.0)  # z-scored input: -2..3 SD to black..white
            pixmap = gray_pixmap(np.rint(shown * 255).astype(np.uint8))
            self.image.setPixmap(
                pixmap.scaled(
                    self.image.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            notes = [
                f"{item.label}: {working.image.shape[1]}×{working.image.shape[0]} px at {spacing:g} mm, breast crop, "
                "chest wall turned to the left, z-scored over the breast"
            ]
            notes += working.warnings + image.metadata.warnings()
            self.notes.setText("\n".join(dict.fromkeys(notes)))

        worker.submit(lambda cancelled: predictor.model_input(image), show, lambda exc: self.notes.setText(str(exc)))
