"""Which study, breast and view an image is, and where its score came from."""

from __future__ import annotations

from dataclasses import dataclass

BOTH_BREASTS = "both breasts"
THIS_IMAGE = "this image"


@dataclass(frozen=True)
class ViewKey:
    """Which study, breast and view an image is: the counterpart of (S, "L", V) is (S, "R", V)."""

    study: str | None
    laterality: str | None
    view: str | None

    def counterpart(self) -> ViewKey | None:
        if self.study is None or self.view is None or self.laterality not in ("L", "R"):
            return None
        return ViewKey(self.study, "R" if self.laterality == "L" else "L", view_family(self.view))

    @property
    def normalised(self) -> ViewKey:
        return ViewKey(self.study, self.laterality, view_family(self.view) if self.view else None)


def view_family(view: str) -> str:
    # ML and MLO of the other breast are compared as one projection family; CC with CC.
    view = view.upper()
    return "MLO" if view in ("MLO", "ML", "LM", "LMO") else view
