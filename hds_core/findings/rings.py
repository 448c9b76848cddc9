"""The outline of every region of a labelled map in one pass, as scikit-image traces it.

:func:`find_lesions` used to call ``skimage.measure.find_contours`` once per region, on the
region's box padded by a pixel with everything outside the region set to 0, and keep the
longest ring. At a low threshold a view holds dozens of regions, and scikit-image joins its
segments into rings in Python: outlining them cost more than a frame, at every step of the
threshold slider. Here the same marching squares run on the whole map at once and the rings are
followed with array operations (pointer doubling), giving what those calls gave, point for
point: the same segments (scikit-image's table, low values fully connected), each ring starting
where scikit-image's assembly closes it (the end of the ring's last segment in scan order), the
longest ring of a region kept, the first traced winning a tie, and each coordinate computed in
the same order of floating-point operations. tests/inference/test_rings.py holds them to the
per-region calls on random maps.

It needs every region pixel strictly above the level (a pixel exactly at the level makes
scikit-image drop degenerate segments and pinch rings there); otherwise it says so and the caller
keeps the per-region calls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rings:
    """One ring per region, packed: ``points`` holds every ring's (row, col) points one after
    the other (each closed: its first point repeated last), ``lengths`` how many each, ``labels``
    whose ring it is (ascending). Packed so that what is measured on them is measured for all
    regions in one array operation, not region by region."""

    labels: np.ndarray
    points: np.ndarray
    lengths: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths

    def __len__(self) -> int:
        return len(self.labels)

    def of(self, index: int) -> np.ndarray:
        start = int(self.starts[index])
        return self.points[start : start + int(self.lengths[index])]

    def as_dict(self) -> dict[int, np.ndarray]:
        return {int(label): self.of(i) for i, label in enumerate(self.labels)}

    @classmethod
    def from_dict(cls, rings: dict[int, np.ndarray | None]) -> Rings:
        kept = [(label, ring) for label, ring in sorted(rings.items()) if ring is not None and len(ring)]
        return cls(
            np.array([label for label, _ in kept], dtype=np.int64),
            np.concatenate([ring for _, ring in kept]) if kept else np.zeros((0, 2)),
            np.array([len(ring) for _, ring in kept], dtype=np.int64),
        )


# Cell corners: ul (r, c), ur (r, c+1), ll (r+1, c), lr (r+1, c+1); case = ul + 2 ur + 4 ll + 8 lr
# for the corners above the level. Edges: top, bottom, left, right. Per case, the (from, to)
# segments scikit-image's _get_contour_segments emits, in its order (saddles 6 and 9 as two
# segments, the diagonal high corners kept apart).
_TOP, _BOTTOM, _LEFT, _RIGHT = range(4)
_SEGMENTS = {
    1: [(_TOP, _LEFT)],
    2: [(_RIGHT, _TOP)],
    3: [(_RIGHT, _LEFT)],
    4: [(_LEFT, _BOTTOM)],
    5: [(_TOP, _BOTTOM)],
    6: [(_RIGHT, _TOP), (_LEFT, _BOTTOM)],
    7: [(_RIGHT, _BOTTOM)],
    8: [(_BOTTOM, _RIGHT)],
    9: [(_TOP, _LEFT), (_BOTTOM, _RIGHT)],
    10: [(_BOTTOM, _TOP)],
    11: [(_BOTTOM, _LEFT)],
    12: [(_LEFT, _RIGHT)],
    13: [(_TOP, _RIGHT)],
    14: [(_LEFT, _TOP)],
}
_FROM = np.full((16, 2), -1, dtype=np.int64)
_TO = np.full((16, 2), -1, dtype=np.int64)
for _case, _pairs in _SEGMENTS.items():
    for _k, (_from, _to) in enumerate(_pairs):
        _FROM[_case, _k], _TO[_case, _k] = _from, _to


def _edge_ids(rows: np.ndarray, cols: np.ndarray, edge: np.ndarray, width: int, height: int) -> np.ndarray:
    """The id of a cell's edge: horizontal edges (r, c)-(r, c+1) first, then vertical ones."""
    row = rows + (edge == _BOTTOM)
    col = cols + (edge == _RIGHT)
    vertical = (edge == _LEFT) | (edge == _RIGHT)
    return np.where(vertical, height * width, 0) + row * width + col


def outer_rings(values: np.ndarray, labels: np.ndarray, kept: np.ndarray, level: float, boxes: list) -> Rings | None:
    """For each region ``kept`` (label numbers) of ``labels`` (the regions of ``values >= level``,
    ``boxes[label - 1]`` their row and column slices), the longest ring around it as (N, 2)
    row/col points, closed (the first point repeated last), in the coordinates and the order
    ``find_contours`` gives on the region's box padded by one pixel with every other pixel 0,
    shifted back into the map's coordinates. None when a region's pixel lies exactly at the level
    (scikit-image pinches the ring there): trace those one by one."""
    if not len(kept) or level <= 0:
        return None if len(kept) else Rings.from_dict({})
    # Only the box around the kept regions is traced (at a high threshold a small part of the
    # map); the pixel of padding stands for find_contours' padding of each region's box.
    top = min(boxes[label - 1][0].start for label in kept)
    bottom = max(boxes[label - 1][0].stop for label in kept)
    left = min(boxes[label - 1][1].start for label in kept)
    right = max(boxes[label - 1][1].stop for label in kept)
    window = (slice(top, bottom), slice(left, right))
    is_kept = np.zeros(int(labels.max()) + 1, dtype=bool)
    is_kept[kept] = True
    labels = labels[window] * is_kept[labels[window]]
    region = labels > 0
    window_values = values[window]
    if not (window_values[region] > level).all():
        return None
    above = np.pad(region, 1)
    padded_values = np.pad(np.where(region, window_values, 0.0), 1).astype(np.float64)
    padded_labels = np.pad(labels, 1)
    height, width = above.shape
    corner = above.view(np.uint8)
    case = corner[:-1, :-1] | (corner[:-1, 1:] << 1) | (corner[1:, :-1] << 2) | (corner[1:, 1:] << 3)
    cell_rows, cell_cols = np.nonzero((case != 0) & (case != 15))
    cell_case = case[cell_rows, cell_cols].astype(np.int64)
    # Every segment: (cell in scan order, k-th of the cell); scan index = its place in that order.
    second = _FROM[cell_case, 1] >= 0
    seg_cell = np.concatenate([np.arange(len(cell_case)), np.flatnonzero(second)])
    seg_k = np.concatenate([np.zeros(len(cell_case), dtype=np.int64), np.ones(int(second.sum()), dtype=np.int64)])
    order = np.lexsort((seg_k, seg_cell))
    seg_cell, seg_k = seg_cell[order], seg_k[order]
    rows, cols, cases = cell_rows[seg_cell], cell_cols[seg_cell], cell_case[seg_cell]
    from_edge = _edge_ids(rows, cols, _FROM[cases, seg_k], width, height)
    to_edge = _edge_ids(rows, cols, _TO[cases, seg_k], width, height)
    # Each crossed edge is left by one segment and entered by one: a permutation of the nodes.
    nodes = from_edge  # node i: the edge segment i leaves
    by_edge = np.argsort(nodes, kind="stable")
    successor = by_edge[np.searchsorted(nodes, to_edge, sorter=by_edge)]
    count = len(nodes)
    # Pointer doubling: each node learns its ring's first and last segment in scan order.
    first, last, jump = np.arange(count), np.arange(count), successor.copy()
    reach = 1
    while reach < count:
        first = np.minimum(first, first[jump])
        last = np.maximum(last, last[jump])
        jump = jump[jump]
        reach *= 2
    # scikit-image's ring starts where its last segment ends: order each ring from there.
    is_end = np.arange(count) == last
    step = np.where(is_end, np.arange(count), successor)
    to_end = (~is_end).astype(np.int64)
    reach = 1
    while reach < count:
        to_end = to_end + to_end[step]
        step = step[step]
        reach *= 2
    ring_length = np.bincount(first, minlength=count)[first]
    position = ring_length - 1 - to_end
    traversal = np.lexsort((position, first))
    # The coordinates of each node's crossing point, as _get_contour_segments computes them.
    vertical = nodes >= height * width
    flat = nodes - np.where(vertical, height * width, 0)
    node_row, node_col = flat // width, flat % width
    start_value = padded_values[node_row, node_col]  # the edge's upper or left pixel
    end_value = padded_values[node_row + vertical, node_col + ~vertical]
    fraction = (level - start_value) / (end_value - start_value)
    node_label = np.maximum(padded_labels[node_row, node_col], padded_labels[node_row + vertical, node_col + ~vertical])
    # Per label, the longest ring (its first point's label), the first traced among equals.
    ring_first = np.flatnonzero(np.arange(count) == first)  # each ring's first segment: ring order
    ring_label = node_label[ring_first]
    ring_size = ring_length[ring_first]
    choice = np.lexsort((ring_first, -ring_size, ring_label))
    chosen_rings = choice[np.r_[True, ring_label[choice][1:] != ring_label[choice][:-1]]]
    starts = np.searchsorted(first[traversal], ring_first[chosen_rings])
    # Every chosen ring's points one after the other, each closed by its first point again.
    chosen_labels = ring_label[chosen_rings]
    sizes = ring_size[chosen_rings]
    lengths = sizes + 1
    of_point = np.repeat(np.arange(len(chosen_rings)), lengths)
    position = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    members = traversal[starts[of_point] + position % sizes[of_point]]
    box_top = np.array([boxes[label - 1][0].start for label in chosen_labels], dtype=np.int64)[of_point]
    box_left = np.array([boxes[label - 1][1].start for label in chosen_labels], dtype=np.int64)[of_point]
    # find_contours' point on the padded box: (row, col + fraction) or (row + fraction, col),
    # the integer part relative to the box; then shifted back by the box's corner.
    r = (node_row[members] + top - box_top).astype(np.float64)
    c = (node_col[members] + left - box_left).astype(np.float64)
    on_vertical = vertical[members]
    r = np.where(on_vertical, r + fraction[members], r)
    c = np.where(on_vertical, c, c + fraction[members])
    points = np.stack([r + (box_top - 1), c + (box_left - 1)], axis=1)
    return Rings(chosen_labels.astype(np.int64), points, lengths.astype(np.int64))
