/* The lesion pass of one probability map at one threshold, compiled: what the threshold
 * slider asks for every view at every step (hds_core/findings/rings.py says what it must
 * give and tests/inference/test_rings.py holds it to scikit-image's per-region calls).
 *
 * trace(values, height, width, level, min_pixels) -> a tuple of bytes: labels (int64, one per
 *   region kept, ascending), counts (int64), maxima (float32), sums (float64), row sums (int64),
 *   column sums (int64), points (float64 row/col pairs of every region's ring, packed, each ring
 *   closed) and lengths (int64 points per ring). Points and lengths are None when a pixel of a
 *   kept region lies exactly at the level (the caller traces those regions one by one, as
 *   scikit-image pinches rings there).
 * chords(points, lengths) -> bytes (float64): each packed ring's largest distance between two
 *   of its points.
 * thin(points, lengths, tolerance, shortest) -> (points, lengths): packed rings thinned for
 *   drawing (see the function).
 *
 * Every floating-point result is computed with the operations, in the order, of the NumPy code
 * it replaced; the build turns off floating-point contraction (-ffp-contract=off) so that no
 * compiler fuses a multiply and an add where NumPy rounds twice. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Cell edges and, per marching-squares case (ul + 2 ur + 4 ll + 8 lr for the corners in a
 * region), the (from, to) edges of scikit-image's segments in its order. */
enum { TOP, BOTTOM, LEFT, RIGHT };
static const int8_t SEGMENTS[16][2][2] = {
    {{-1, -1}, {-1, -1}},         {{TOP, LEFT}, {-1, -1}},      {{RIGHT, TOP}, {-1, -1}},
    {{RIGHT, LEFT}, {-1, -1}},    {{LEFT, BOTTOM}, {-1, -1}},   {{TOP, BOTTOM}, {-1, -1}},
    {{RIGHT, TOP}, {LEFT, BOTTOM}}, {{RIGHT, BOTTOM}, {-1, -1}}, {{BOTTOM, RIGHT}, {-1, -1}},
    {{TOP, LEFT}, {BOTTOM, RIGHT}}, {{BOTTOM, TOP}, {-1, -1}},   {{BOTTOM, LEFT}, {-1, -1}},
    {{LEFT, RIGHT}, {-1, -1}},    {{TOP, RIGHT}, {-1, -1}},     {{LEFT, TOP}, {-1, -1}},
    {{-1, -1}, {-1, -1}},
};

typedef struct {
    int64_t *labels, *counts, *row_sums, *col_sums, *lengths;
    float *maxima;
    double *sums, *points;
    Py_ssize_t regions, total_points;
} Traced;

static int32_t find_root(int32_t *parent, int32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void unite(int32_t *parent, int32_t a, int32_t b) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

/* The edge id of a cell's edge on the padded grid: horizontal edges (r, c)-(r, c+1) first,
 * then vertical ones (r, c)-(r+1, c). */
static inline int64_t edge_id(int64_t r, int64_t c, int edge, int64_t ph, int64_t pw) {
    int64_t row = r + (edge == BOTTOM), col = c + (edge == RIGHT);
    int64_t vertical = (edge == LEFT || edge == RIGHT);
    return (vertical ? ph * pw : 0) + row * pw + col;
}

/* 0: traced; 1: a kept pixel lies at the level; -1: out of memory. */
static int trace_map(const float *values, int64_t height, int64_t width, double level, int64_t min_pixels,
                     Traced *out) {
    const float flevel = (float)level; /* NumPy compares the float32 map with the level as float32 */
    /* Labels live on the map padded by one pixel of 0 on every side: neighbours and cell
     * corners are read without bounds checks, and the padding is find_contours' padding. */
    const int64_t ph = height + 2, pw = width + 2;
    int status = -1;
    int32_t *label = NULL, *parent = NULL, *final = NULL, *leaving = NULL, *ring_nodes = NULL;
    int32_t *seg_from = NULL, *seg_to = NULL;
    int64_t *best_ring = NULL, *ring_start = NULL, *ring_size = NULL;
    int64_t *counts = NULL, *row_sums = NULL, *col_sums = NULL, *top = NULL, *left = NULL;
    float *maxima = NULL;
    double *sums = NULL;
    memset(out, 0, sizeof(*out));
    /* Nothing at or above the level (a high threshold): nothing to number or trace. */
    int any = 0;
    for (int64_t i = 0; i < height * width && !any; i++) any = values[i] >= flevel;
    if (!any) return 0;

    /* 1. Regions of values >= level, 8-connected, numbered by their first pixel in raster
     * order (as scikit-image's label numbers them). Provisional numbers are given in raster
     * order and a set's root is its smallest: the number its first pixel was given. The
     * already-scanned neighbours are tried in the order that needs the fewest unions: the
     * pixel above touches the other three, upper right touches neither upper left nor left. */
    label = calloc((size_t)(ph * pw), sizeof(int32_t));
    parent = malloc(sizeof(int32_t) * (size_t)(height * width + 2)); /* at most one number a pixel */
    if (!label || !parent) goto done;
    int32_t provisional = 0;
    parent[0] = 0;
    for (int64_t r = 1; r <= height; r++) {
        const float *row = values + (r - 1) * width - 1;
        int32_t *here = label + r * pw, *above = here - pw;
        for (int64_t c = 1; c <= width; c++) {
            if (!(row[c] >= flevel)) continue;
            int32_t up = above[c], upper_right = above[c + 1], upper_left = above[c - 1], before = here[c - 1];
            if (up)
                here[c] = up;
            else if (upper_right) {
                here[c] = upper_right;
                int32_t other = upper_left ? upper_left : before;
                if (other) unite(parent, upper_right, other);
            } else if (upper_left)
                here[c] = upper_left;
            else if (before)
                here[c] = before;
            else {
                here[c] = ++provisional;
                parent[provisional] = provisional;
            }
        }
    }
    final = calloc((size_t)provisional + 1, sizeof(int32_t));
    if (!final) goto done;
    int32_t regions = 0;
    for (int32_t p = 1; p <= provisional; p++) {
        int32_t root = find_root(parent, p);
        final[p] = root == p ? ++regions : final[root];
    }

    /* 2. Per region: pixels, the largest value, the sum in float64, the sums of the pixel
     * rows and columns, and the box's top and left. */
    counts = calloc((size_t)regions + 1, sizeof(int64_t));
    row_sums = calloc((size_t)regions + 1, sizeof(int64_t));
    col_sums = calloc((size_t)regions + 1, sizeof(int64_t));
    top = malloc(sizeof(int64_t) * ((size_t)regions + 1));
    left = malloc(sizeof(int64_t) * ((size_t)regions + 1));
    maxima = malloc(sizeof(float) * ((size_t)regions + 1));
    sums = calloc((size_t)regions + 1, sizeof(double));
    if (!counts || !row_sums || !col_sums || !top || !left || !maxima || !sums) goto done;
    for (int32_t k = 0; k <= regions; k++) {
        top[k] = height;
        left[k] = width;
        maxima[k] = -INFINITY;
    }
    /* A row's run of one region is summed in registers, in raster order as before: the same
     * additions in the same order as pixel by pixel. */
    int64_t at_level = 0; /* pixels exactly at the level, per region below (counted once) */
    int32_t *level_pixels = calloc((size_t)regions + 1, sizeof(int32_t));
    if (!level_pixels) goto done;
    for (int64_t r = 1; r <= height; r++) {
        const float *row = values + (r - 1) * width - 1;
        int32_t *here = label + r * pw;
        for (int64_t c = 1; c <= width;) {
            if (!here[c]) {
                c++;
                continue;
            }
            int32_t k = final[here[c]];
            int64_t from = c;
            double sum = sums[k];
            float highest = maxima[k];
            for (; c <= width && here[c] && final[here[c]] == k; c++) {
                here[c] = k;
                float v = row[c];
                sum += (double)v;
                if (v > highest) highest = v;
                level_pixels[k] += v == flevel;
            }
            int64_t run = c - from;
            sums[k] = sum;
            maxima[k] = highest;
            counts[k] += run;
            row_sums[k] += (r - 1) * run;
            col_sums[k] += (from - 1 + c - 2) * run / 2;
            if (r - 1 < top[k]) top[k] = r - 1;
            if (from - 1 < left[k]) left[k] = from - 1;
        }
    }
    for (int32_t k = 1; k <= regions; k++) at_level += counts[k] >= min_pixels && level_pixels[k];
    free(level_pixels);
    /* A kept pixel exactly at the level: scikit-image pinches rings there, so the caller traces
     * those regions itself and only their measures are given. */
    const int pinched = at_level != 0;
    /* Specks (fewer pixels than min_pixels) are neither traced nor measured. */
    int32_t kept = 0;
    for (int32_t k = 1; k <= regions; k++) kept += counts[k] >= min_pixels;
    if (kept < regions)
        for (int64_t r = 1; r <= height; r++) {
            int32_t *here = label + r * pw;
            for (int64_t c = 1; c <= width; c++)
                if (here[c] && counts[here[c]] < min_pixels) here[c] = 0;
        }
    if (!kept) {
        status = 0;
        goto done;
    }
    best_ring = malloc(sizeof(int64_t) * ((size_t)regions + 1));
    if (!best_ring) goto done;
    for (int32_t k = 0; k <= regions; k++) best_ring[k] = -1;
    if (pinched) goto measures;

    /* 3. Marching squares on the padded map, every kept region at once: each cell's segments
     * in scan order (cell (r, c) has corners (r, c) to (r + 1, c + 1)), then their rings. */
#define CASE(r, c)                                                                                  \
    ((label[(r) * pw + (c)] != 0) | (label[(r) * pw + (c) + 1] != 0) << 1 |                         \
     (label[((r) + 1) * pw + (c)] != 0) << 2 | (label[((r) + 1) * pw + (c) + 1] != 0) << 3)
    if (2 * ph * pw >= INT32_MAX) goto done;
    int64_t segments = 0, capacity = 4 * (ph + pw) + 1024; /* grown as the cells need */
    seg_from = malloc(sizeof(int32_t) * (size_t)capacity);
    seg_to = malloc(sizeof(int32_t) * (size_t)capacity);
    leaving = malloc(sizeof(int32_t) * (size_t)(2 * ph * pw));
    if (!seg_from || !seg_to || !leaving) goto done;
    for (int64_t r = 0; r + 1 < ph; r++)
        for (int64_t c = 0; c + 1 < pw; c++) {
            int cell = CASE(r, c);
            if (cell == 0 || cell == 15) continue;
            if (segments + 2 > capacity) {
                capacity *= 2;
                int32_t *from = realloc(seg_from, sizeof(int32_t) * (size_t)capacity);
                if (from) seg_from = from;
                int32_t *to = realloc(seg_to, sizeof(int32_t) * (size_t)capacity);
                if (to) seg_to = to;
                if (!from || !to) goto done;
            }
            for (int k = 0; k < 2 && SEGMENTS[cell][k][0] >= 0; k++, segments++) {
                seg_from[segments] = (int32_t)edge_id(r, c, SEGMENTS[cell][k][0], ph, pw);
                seg_to[segments] = (int32_t)edge_id(r, c, SEGMENTS[cell][k][1], ph, pw);
                leaving[seg_from[segments]] = (int32_t)segments; /* each crossed edge is left by one segment */
            }
        }
    ring_nodes = malloc(sizeof(int32_t) * (size_t)(segments ? segments : 1));
    if (!ring_nodes) goto done;
    int32_t s;
#undef CASE
    /* seg_to becomes each segment's successor; a visited segment's is set to -1. */
    for (s = 0; s < segments; s++) seg_to[s] = leaving[seg_to[s]];

    /* Each ring, from its first segment in scan order; scikit-image's ring starts where its
     * last segment (in scan order) ends: the nodes from the one after the last, in ring order.
     * Per region the longest ring, the first traced among equals. */
    ring_start = malloc(sizeof(int64_t) * (size_t)(segments ? segments : 1));
    ring_size = malloc(sizeof(int64_t) * (size_t)(segments ? segments : 1));
    if (!ring_start || !ring_size) goto done;
    int64_t rings = 0, placed = 0;
    for (int32_t first = 0; first < segments; first++) {
        if (seg_to[first] < 0) continue;
        int64_t length = 0, position = 0;
        int32_t last = first, at = first;
        do {
            int32_t next = seg_to[at];
            seg_to[at] = -1;
            if (at > last) {
                last = at;
                position = length;
            }
            ring_nodes[placed + length++] = at;
            at = next;
        } while (at != first);
        /* rotate so that the node after ``last`` comes first (leaving[] is free to hold it) */
        int64_t shift = (position + 1) % length;
        if (shift) {
            int32_t *ring = ring_nodes + placed;
            memcpy(leaving, ring, sizeof(int32_t) * (size_t)shift);
            memmove(ring, ring + shift, sizeof(int32_t) * (size_t)(length - shift));
            memcpy(ring + length - shift, leaving, sizeof(int32_t) * (size_t)shift);
        }
        /* the region: the kept pixel of the first segment's edge */
        int64_t edge = seg_from[first];
        int64_t vertical = edge >= ph * pw;
        int64_t flat = edge - (vertical ? ph * pw : 0);
        int32_t a = label[flat], b = label[flat + (vertical ? pw : 1)];
        int32_t region = a > b ? a : b;
        ring_start[rings] = placed;
        ring_size[rings] = length;
        if (best_ring[region] < 0 || length > ring_size[best_ring[region]]) best_ring[region] = rings;
        rings++;
        placed += length;
    }

    /* 4. The kept regions' measures and their chosen rings' points, closed, in ascending region
     * order: the crossing on each node's edge, (row, col + fraction) or (row + fraction, col)
     * relative to the region's box as find_contours gives it on the box padded by one pixel,
     * shifted back by the box. */
measures:;
    Py_ssize_t total = 0;
    for (int32_t k = 1; k <= regions; k++)
        if (best_ring[k] >= 0) total += ring_size[best_ring[k]] + 1;
    out->labels = malloc(sizeof(int64_t) * (size_t)kept);
    out->counts = malloc(sizeof(int64_t) * (size_t)kept);
    out->row_sums = malloc(sizeof(int64_t) * (size_t)kept);
    out->col_sums = malloc(sizeof(int64_t) * (size_t)kept);
    out->lengths = malloc(sizeof(int64_t) * (size_t)kept);
    out->maxima = malloc(sizeof(float) * (size_t)kept);
    out->sums = malloc(sizeof(double) * (size_t)kept);
    out->points = malloc(sizeof(double) * 2 * (size_t)(total ? total : 1));
    if (!out->labels || !out->counts || !out->row_sums || !out->col_sums || !out->lengths || !out->maxima ||
        !out->sums || !out->points)
        goto done;
    Py_ssize_t j = 0, p = 0;
    for (int32_t k = 1; k <= regions; k++) {
        if (counts[k] < min_pixels) continue;
        int64_t ring = best_ring[k], size = ring < 0 ? 0 : ring_size[ring];
        out->labels[j] = k;
        out->counts[j] = counts[k];
        out->row_sums[j] = row_sums[k];
        out->col_sums[j] = col_sums[k];
        out->maxima[j] = maxima[k];
        out->sums[j] = sums[k];
        out->lengths[j] = ring < 0 ? 0 : size + 1;
        for (int64_t q = 0; ring >= 0 && q <= size; q++, p++) {
            int64_t edge = seg_from[ring_nodes[ring_start[ring] + q % size]];
            int64_t vertical = edge >= ph * pw;
            int64_t flat = edge - (vertical ? ph * pw : 0);
            int64_t nr = flat / pw, nc = flat % pw, other = flat + (vertical ? pw : 1);
            /* the padded map's value: the region's own, 0 elsewhere */
            double start = label[flat] ? (double)values[(nr - 1) * width + nc - 1] : 0.0;
            double end = label[other] ? (double)values[(nr + vertical - 1) * width + nc + !vertical - 1] : 0.0;
            double fraction = (level - start) / (end - start);
            double row = (double)(nr - top[k]), col = (double)(nc - left[k]);
            if (vertical)
                row = row + fraction;
            else
                col = col + fraction;
            out->points[2 * p] = row + (double)(top[k] - 1);
            out->points[2 * p + 1] = col + (double)(left[k] - 1);
        }
        j++;
    }
    out->regions = kept;
    out->total_points = total;
    status = pinched;

done:
    free(label);
    free(parent);
    free(final);
    free(leaving);
    free(seg_from);
    free(seg_to);
    free(ring_nodes);
    free(best_ring);
    free(ring_start);
    free(ring_size);
    free(counts);
    free(row_sums);
    free(col_sums);
    free(top);
    free(left);
    free(maxima);
    free(sums);
    return status;
}

static void free_traced(Traced *t) {
    free(t->labels);
    free(t->counts);
    free(t->row_sums);
    free(t->col_sums);
    free(t->lengths);
    free(t->maxima);
    free(t->sums);
    free(t->points);
}

static PyObject *trace(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer values;
    Py_ssize_t height, width, min_pixels;
    double level;
    if (!PyArg_ParseTuple(args, "y*nndn", &values, &height, &width, &level, &min_pixels)) return NULL;
    if (height < 0 || width < 0 || values.len != (Py_ssize_t)sizeof(float) * height * width ||
        height * width >= INT32_MAX / 2) {
        PyBuffer_Release(&values);
        PyErr_SetString(PyExc_ValueError, "trace: values must hold height x width float32 values");
        return NULL;
    }
    Traced t;
    int status;
    Py_BEGIN_ALLOW_THREADS;
    status = trace_map((const float *)values.buf, height, width, level, min_pixels, &t);
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&values);
    if (status < 0) {
        free_traced(&t);
        return PyErr_NoMemory();
    }
    Py_ssize_t k = t.regions;
#define BYTES(p) (p ? (const char *)(p) : "")
    PyObject *result;
    if (status > 0) /* pinched: the measures, no rings */
        result = Py_BuildValue("(y#y#y#y#y#y#OO)", BYTES(t.labels), k * 8, BYTES(t.counts), k * 8, BYTES(t.maxima),
                               k * 4, BYTES(t.sums), k * 8, BYTES(t.row_sums), k * 8, BYTES(t.col_sums), k * 8,
                               Py_None, Py_None);
    else
        result = Py_BuildValue("(y#y#y#y#y#y#y#y#)", BYTES(t.labels), k * 8, BYTES(t.counts), k * 8,
                               BYTES(t.maxima), k * 4, BYTES(t.sums), k * 8, BYTES(t.row_sums), k * 8,
                               BYTES(t.col_sums), k * 8, BYTES(t.points), t.total_points * 16,
                               BYTES(t.lengths), k * 8);
#undef BYTES
    free_traced(&t);
    return result;
}

/* The eight directions whose extreme points make a ring's inner octagon (in angular order). */
static const double OCTAGON[8][2] = {{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}};

typedef struct {
    double row, col;
} Point;

static int by_row_then_col(const void *a, const void *b) {
    const Point *p = a, *q = b;
    if (p->row != q->row) return p->row < q->row ? -1 : 1;
    if (p->col != q->col) return p->col < q->col ? -1 : 1;
    return 0;
}

static inline double turn(const Point *o, const Point *a, const Point *b) {
    return (a->row - o->row) * (b->col - o->col) - (a->col - o->col) * (b->row - o->row);
}

/* One ring's largest distance between two points. The farthest pair are vertices of the convex
 * hull, so a point strictly inside the octagon of the extreme points in eight directions (Akl
 * and Toussaint) is never one of them; the rest go through Andrew's monotone chain, which drops
 * a point only where it turns inward by more than rounding could make it (a point on or near
 * the hull's edge is kept: rounding can only keep a point, never lose one), and every pair of
 * what is left is measured: the largest of all pairs' distances, computed as NumPy computed each. */
static double ring_chord(const double *points, int64_t count, double margin, Point *candidates, Point *hull) {
    if (count < 2) return 0.0;
    int64_t corner[8] = {0};
    double highest[8];
    for (int k = 0; k < 8; k++) highest[k] = -INFINITY;
    for (int64_t i = 0; i < count; i++)
        for (int k = 0; k < 8; k++) {
            double projection = points[2 * i] * OCTAGON[k][0] + points[2 * i + 1] * OCTAGON[k][1];
            if (projection > highest[k]) {
                highest[k] = projection;
                corner[k] = i;
            }
        }
    double ax[8], ay[8], ex[8], ey[8];
    int degenerate[8], all_degenerate = 1;
    for (int k = 0; k < 8; k++) {
        const double *a = points + 2 * corner[k], *b = points + 2 * corner[(k + 1) % 8];
        ax[k] = a[0];
        ay[k] = a[1];
        ex[k] = b[0] - a[0];
        ey[k] = b[1] - a[1];
        degenerate[k] = ex[k] == 0 && ey[k] == 0;
        all_degenerate &= degenerate[k];
    }
    int64_t m = 0;
    for (int64_t i = 0; i < count; i++) {
        int positive = 1, negative = 1;
        for (int k = 0; k < 8 && (positive || negative); k++) {
            double cross = ex[k] * (points[2 * i + 1] - ay[k]) - ey[k] * (points[2 * i] - ax[k]);
            positive &= cross > margin || degenerate[k];
            negative &= cross < -margin || degenerate[k];
        }
        if (!((positive || negative) && !all_degenerate)) candidates[m++] = (Point){points[2 * i], points[2 * i + 1]};
    }
    qsort(candidates, (size_t)m, sizeof(Point), by_row_then_col);
    int64_t h = 0;
    for (int64_t i = 0; i < m; i++) { /* lower chain */
        while (h >= 2 && turn(&hull[h - 2], &hull[h - 1], &candidates[i]) < -margin) h--;
        hull[h++] = candidates[i];
    }
    for (int64_t i = m - 2, lower = h + 1; i >= 0; i--) { /* upper chain */
        while (h >= lower && turn(&hull[h - 2], &hull[h - 1], &candidates[i]) < -margin) h--;
        hull[h++] = candidates[i];
    }
    double best = 0.0;
    for (int64_t u = 0; u < h; u++)
        for (int64_t v = u + 1; v < h; v++) {
            double dx = hull[u].row - hull[v].row, dy = hull[u].col - hull[v].col;
            double squared = dx * dx + dy * dy;
            if (squared > best) best = squared;
        }
    return sqrt(best);
}

static PyObject *chords(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer points, lengths;
    if (!PyArg_ParseTuple(args, "y*y*", &points, &lengths)) return NULL;
    Py_ssize_t rings = lengths.len / 8, total = 0;
    const int64_t *length = (const int64_t *)lengths.buf;
    int64_t longest = 0;
    for (Py_ssize_t r = 0; r < rings; r++) {
        total += length[r];
        if (length[r] > longest) longest = length[r];
    }
    if (points.len != total * 16) {
        PyBuffer_Release(&points);
        PyBuffer_Release(&lengths);
        PyErr_SetString(PyExc_ValueError, "chords: points must hold sum(lengths) float64 (row, col) pairs");
        return NULL;
    }
    const double *xy = (const double *)points.buf;
    double extent = 0.0;
    for (Py_ssize_t i = 0; i < 2 * total; i++)
        if (fabs(xy[i]) > extent) extent = fabs(xy[i]);
    /* Rounding in a cross product is a few units in the last place of extent**2. */
    double margin = 1e-9 * (extent + 1.0) * (extent + 1.0);
    PyObject *result = PyBytes_FromStringAndSize(NULL, rings * 8);
    Point *candidates = malloc(sizeof(Point) * (size_t)(longest ? longest : 1));
    Point *hull = malloc(sizeof(Point) * (size_t)(2 * longest + 2));
    if (!result || !candidates || !hull) {
        Py_XDECREF(result);
        free(candidates);
        free(hull);
        PyBuffer_Release(&points);
        PyBuffer_Release(&lengths);
        return PyErr_NoMemory();
    }
    double *chord = (double *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS;
    Py_ssize_t start = 0;
    for (Py_ssize_t r = 0; r < rings; r++) {
        chord[r] = ring_chord(xy + 2 * start, length[r], margin, candidates, hull);
        start += length[r];
    }
    Py_END_ALLOW_THREADS;
    free(candidates);
    free(hull);
    PyBuffer_Release(&points);
    PyBuffer_Release(&lengths);
    return result;
}

/* thin(points, lengths, tolerance, shortest) -> (points, lengths): every packed ring (float64
 * (x, y) or (row, col) pairs) without the points that lie within ``tolerance`` of the chord
 * between their neighbours, in two passes that each look at every other point (odd positions,
 * then even ones of what is left) of the rings of at least ``shortest`` points, every decision
 * of a pass taken on the ring as the pass found it: the NumPy code the viewer drew with. */
static PyObject *thin(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer points, lengths;
    double tolerance;
    Py_ssize_t shortest;
    if (!PyArg_ParseTuple(args, "y*y*dn", &points, &lengths, &tolerance, &shortest)) return NULL;
    Py_ssize_t rings = lengths.len / 8, total = 0;
    for (Py_ssize_t r = 0; r < rings; r++) total += ((const int64_t *)lengths.buf)[r];
    if (points.len != total * 16) {
        PyBuffer_Release(&points);
        PyBuffer_Release(&lengths);
        PyErr_SetString(PyExc_ValueError, "thin: points must hold sum(lengths) float64 pairs");
        return NULL;
    }
    double *from = malloc(sizeof(double) * 2 * (size_t)(total ? total : 1));
    double *to = malloc(sizeof(double) * 2 * (size_t)(total ? total : 1));
    int64_t *length = malloc(sizeof(int64_t) * (size_t)(rings ? rings : 1));
    if (!from || !to || !length) {
        free(from);
        free(to);
        free(length);
        PyBuffer_Release(&points);
        PyBuffer_Release(&lengths);
        return PyErr_NoMemory();
    }
    memcpy(from, points.buf, sizeof(double) * 2 * (size_t)total);
    memcpy(length, lengths.buf, sizeof(int64_t) * (size_t)rings);
    PyBuffer_Release(&points);
    PyBuffer_Release(&lengths);
    Py_ssize_t kept = total;
    Py_BEGIN_ALLOW_THREADS;
    for (int parity = 1; parity >= 0; parity--) {
        Py_ssize_t start = 0, out = 0;
        for (Py_ssize_t r = 0; r < rings; r++) {
            int64_t n = length[r], left = 0;
            for (int64_t i = 0; i < n; i++) {
                const double *p = from + 2 * (start + i);
                int keep = 1;
                if (n >= shortest && i % 2 == parity) {
                    const double *b = from + 2 * (start + (i - 1 + n) % n), *a = from + 2 * (start + (i + 1) % n);
                    double cx = a[0] - b[0], cy = a[1] - b[1];
                    double chord = hypot(cx, cy);
                    double offset = fabs(cx * (p[1] - b[1]) - cy * (p[0] - b[0]));
                    keep = !(offset <= tolerance * (chord > 1e-9 ? chord : 1e-9));
                }
                if (keep) {
                    to[2 * out] = p[0];
                    to[2 * out + 1] = p[1];
                    out++;
                    left++;
                }
            }
            start += n;
            length[r] = left;
        }
        kept = out;
        double *swap = from;
        from = to;
        to = swap;
    }
    Py_END_ALLOW_THREADS;
    PyObject *result = Py_BuildValue("(y#y#)", (const char *)from, kept * 16, (const char *)length, rings * 8);
    free(from);
    free(to);
    free(length);
    return result;
}

static PyMethodDef methods[] = {
    {"trace", trace, METH_VARARGS, "The kept regions of a float32 map at a level, their measures and rings."},
    {"chords", chords, METH_VARARGS, "Each packed ring's largest distance between two of its points."},
    {"thin", thin, METH_VARARGS, "Packed rings without the points within a tolerance of their neighbours' chord."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_outline", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__outline(void) { return PyModule_Create(&module); }
