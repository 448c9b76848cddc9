"""The current study against its prior, image by image: each analysed view is compared with
the prior's view of the same breast (hds_core.findings.comparison places the findings in the
breast's own frame). Qt-free."""

from __future__ import annotations

from hds_core.findings.comparison import new_findings

from .hanging import orientation_flips
from .study import Study, StudyImage


def _stored_upside_down(item: StudyImage) -> bool:
    """Whether the hanging turns this image upside down (its Patient Orientation says so)."""
    info = item.view_info()
    return orientation_flips(info, {"R": "left", "L": "right"}.get(info.side or ""))[1]


def matching_view(item: StudyImage, prior: Study) -> StudyImage | None:
    """The prior's analysed image of the same breast and view family."""
    info = item.view_info()
    if not (info.side and info.family):
        return None
    for other in prior.predicted():
        theirs = other.view_info()
        if (theirs.side, theirs.family) == (info.side, info.family):
            return other
    return None


def new_since(study: Study, prior: Study, threshold: float) -> dict[tuple[str, int], str | None]:
    """(image key, lesion index) -> the prior's date, for every lesion at ``threshold`` that
    has no finding near its place on the prior's same view; lesions whose view the prior
    lacks (or has not analysed yet) are not judged and not listed."""
    flagged = {}
    for item in study.predicted():
        before = matching_view(item, prior)
        if before is None:
            continue
        flips = (_stored_upside_down(item), _stored_upside_down(before))
        for index, new in new_findings(item.prediction, before.prediction, threshold, flips=flips).items():
            if new:
                flagged[(item.key, index)] = prior.study_date
    return flagged
