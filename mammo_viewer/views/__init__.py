"""The views: one image view (pan, zoom, window, contours, magnifier), its annotations, and
the grid that hangs a study in them."""
