"""The dataset kinds the training and evaluation commands take (``KIND:PATH``), in words for
their --help; imports nothing, so --help answers at once (``hds_core.data.registry`` loads them)."""

# What each kind is, for the commands' --help.
KINDS_HELP = (
    "minimias:PATH (mini-MIAS: Info.txt + films), inbreast:PATH, cbis-ddsm[-train|-test]:PATH (CBIS-DDSM's DICOM "
    "tree + description CSVs, the official split kept), vindr[-train|-test]:PATH (VinDr-Mammo: images/ + "
    "breast-level and finding CSVs; mass boxes as weak masks), cdd-cesm:PATH (the full CDD-CESM release: "
    "low-energy JPEGs, annotations, outlines; normals included), cmmd:PATH (CMMD: DICOM + clinical table; image "
    "labels only, for hds-eval), folder:PATH (images/ + masks/)"
)
