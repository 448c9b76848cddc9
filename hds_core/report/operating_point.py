"""The validation figures at any threshold, from the threshold table that ships in the
weights' JSON (``validation.threshold_table``): shown beside the viewer's slider and printed
in reports."""

from __future__ import annotations


def operating_point(table: list[dict], threshold: float) -> dict | None:
    """The validation figures at ``threshold``, linearly interpolated between the table's rows
    (the model card's table, shipped in the weights' JSON). None without a table."""
    rows = sorted((row for row in table if row.get("threshold") is not None), key=lambda row: row["threshold"])
    if not rows:
        return None
    if threshold <= rows[0]["threshold"]:
        return dict(rows[0])
    if threshold >= rows[-1]["threshold"]:
        return dict(rows[-1])
    for low, high in zip(rows, rows[1:]):
        if low["threshold"] <= threshold <= high["threshold"]:
            span = high["threshold"] - low["threshold"]
            weight = 0.0 if span == 0 else (threshold - low["threshold"]) / span
            point = {"threshold": threshold}
            for key in low:
                a, b = low[key], high.get(key)
                if key != "threshold" and isinstance(a, (int, float)) and isinstance(b, (int, float)):
                    point[key] = a + weight * (b - a)
                elif key != "threshold":
                    point[key] = None
            return point
    return None


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _num(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def describe_operating_point(point: dict) -> str:
    """The figures at a threshold in words, as the viewer and the PDF report say them (digital
    images too when the table has their columns: weights cross-validated on both)."""
    text = (
        f"a contour on {_pct(point.get('contour_sensitivity'))} of mass films (sensitivity), no contour on "
        f"{_pct(point.get('contour_specificity'))} of normal films (specificity); Dice "
        f"{_num(point.get('dice_mass_images'))}; "
        f"{_num(point.get('fp_regions_per_normal_image'))} false regions per normal film"
    )
    if point.get("digital_contour_sensitivity") is not None:
        text += (
            f"; digital images with a lesion: a contour on {_pct(point['digital_contour_sensitivity'])}, "
            f"Dice {_num(point.get('digital_dice_mass_images'))}"
        )
    return text


def score_trust(cross_validation: dict, domain: str | None = None) -> str | None:
    """How far the image score can be trusted, in one line per dataset, from the weights'
    cross-validated figures (``ModelSpec.cross_validation``): the AUC with its interval where the
    dataset has normals, the lesion sensitivity where it has none. With ``domain`` (film or
    digital: the study on screen), only the datasets of that domain where the weights record
    one. None without figures."""
    blocks = cross_validation or {}
    if domain is not None and any(block.get("domain") == domain for block in blocks.values()):
        blocks = {spec: block for spec, block in blocks.items() if block.get("domain") == domain}
    parts = []
    # Datasets with an AUC (they have normals: what a reader most needs to know) first.
    ordered = sorted(blocks.items(), key=lambda item: (item[1].get("shipped_score") or {}).get("image_auc") is None)
    for spec, block in ordered:
        name = spec.partition(":")[2].rstrip("/").rsplit("/", 1)[-1] or spec
        figures = block.get("shipped_score") or {}
        if figures.get("image_auc") is not None:
            low_high = figures.get("image_auc_ci") or [None, None]
            interval = f" [{low_high[0]:.2f}, {low_high[1]:.2f}]" if low_high[0] is not None else ""
            verdict = " — no better than chance" if low_high[0] is not None and low_high[0] <= 0.5 else ""
            parts.append(f"{name}: AUC {figures['image_auc']:.2f}{interval}{verdict}")
        elif figures.get("lesion_sensitivity") is not None:
            parts.append(
                f"{name}: {_pct(figures['lesion_sensitivity'])} of lesions outlined at the default threshold, "
                f"{_num(figures.get('fp_regions_per_image'), 1)} false regions per image"
            )
    return ("Cross-validated, patients unseen: " + "; ".join(parts)) if parts else None


def score_word(calibrated: bool) -> str:
    """How a view's score is labelled beside it: a raw score must not read as a probability."""
    return "score" if calibrated else "raw score"


def score_kind(calibrated: bool) -> str:
    """What an image score is, in the words the panel and the report use."""
    return "probability of a mass" if calibrated else "raw network score, not calibrated: a rank, not a risk"


def study_domain(predictions) -> str | None:
    """The acquisition domain of a study's images (film or digital) where they agree."""
    domains = {p.domain for p in predictions}
    return domains.pop() if len(domains) == 1 else None
