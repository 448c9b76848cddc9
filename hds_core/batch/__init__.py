"""``hds-batch``: the engine over a whole archive on Ray (issue 42). A manifest (folders, a CSV
of paths, or a PACS query) becomes one row per study (``manifest.py``); each study is read by
Ray tasks and analysed by a model actor, one per worker (``pipeline.py``, ``worker.py``),
writing the same files ``hds-predict`` writes; each finished study leaves a record, from which
the results table (Parquet) is made (``records.py``), so a stopped run starts again where it
stopped. Only ``pipeline.py`` imports Ray: the viewer and ``hds-predict`` never do."""
