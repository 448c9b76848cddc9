"""The radiologist's reading in words, in the order the ACR BI-RADS atlas gives a mammography
report: indication, breast composition, findings, comparison, impression and assessment,
management; then who read it and when. The PDF prints these sections and the reader's
structured report (``reader_sr.py``) holds the same words, so paper and PACS say the same."""

from __future__ import annotations

from dataclasses import dataclass

from ..findings.location import clock_face, quadrant
from .reading import ASSESSMENTS, COMPOSITIONS, Finding, Reading

SIDES = {"R": "right breast", "L": "left breast"}


def finding_text(finding: Finding) -> str:
    """ "1. mass, right breast, 10 o'clock (upper outer), middle third, 42 mm from the nipple
    (R CC, R MLO)"."""
    left = next((m.left_mm for m in finding.marks if m.left_mm is not None), None)
    up = next((m.up_mm for m in finding.marks if m.up_mm is not None), None)
    where = [SIDES.get(finding.laterality or "", "breast unknown")]
    hour, part = clock_face(left, up), quadrant(finding.laterality, left, up)
    if hour:
        where.append(hour + (f" ({part})" if part else ""))
    first = finding.marks[0] if finding.marks else None
    if first is not None and first.third:
        where.append(f"{first.third} third")
    if first is not None and first.nipple_distance_mm is not None:
        where.append(f"{first.nipple_distance_mm:.0f} mm from the nipple")
    views = ", ".join(m.view + (f" slice {m.slice}" if m.slice else "") for m in finding.marks)
    source = " [AI mark accepted]" if finding.source == "ai" else ""
    return f"{finding.number}. {finding.kind}, {', '.join(where)} ({views}){source}"


def assessment_text(category: str | None) -> str:
    return f"BI-RADS {category}: {ASSESSMENTS[category]}" if category in ASSESSMENTS else "not given"


@dataclass(frozen=True)
class Section:
    key: str  # indication, composition, findings, comparison, assessment, management
    title: str
    lines: tuple[str, ...]


def report_sections(reading: Reading, comparison_line: str | None) -> list[Section]:
    """The reading's sections in the atlas's order (``comparison_line``: the study against its
    prior, as the viewer or hds-predict found it; None: not compared)."""
    findings = [finding_text(f) for f in reading.findings]
    if not findings:
        findings = ["No finding recorded by the reader."]
    dismissed = [
        f"AI mark {m.view} #{m.lesion} (maximum probability {m.max_probability:.2f}): dismissed by the reader"
        for m in reading.ai_marks
        if m.decision == "dismissed"
    ]
    assessment = [
        f"{name.capitalize()}: {assessment_text(reading.assessment.get(side))}"
        for side, name in SIDES.items()
        if reading.assessment.get(side)
    ]
    assessment.append(f"Exam: {assessment_text(reading.exam)}")
    if reading.impression.strip():
        assessment.insert(0, reading.impression.strip())
    composition = (
        f"{reading.composition}. {COMPOSITIONS[reading.composition]}." if reading.composition else "Not given."
    )
    return [
        Section("indication", "Indication", (reading.indication.strip() or "Not stated.",)),
        Section("composition", "Breast composition", (composition,)),
        Section("findings", "Findings", (*findings, *dismissed)),
        Section("comparison", "Comparison", (comparison_line or "Not compared with a prior study.",)),
        Section("assessment", "Impression and assessment", tuple(assessment)),
        Section("management", "Management", (reading.recommended or "Not given.",)),
    ]


def signature_line(reading: Reading) -> str:
    """Who read it and when, which version, and whether it is final."""
    who = reading.reader.strip() or "reader not named"
    amends = f", addendum to version {reading.amends}" if reading.amends else ""
    if reading.signed:
        return f"Read and signed by {who} on {reading.signed_at} (version {reading.version}{amends})."
    return f"DRAFT, not signed: read by {who}, last changed {reading.modified} (version {reading.version}{amends})."
