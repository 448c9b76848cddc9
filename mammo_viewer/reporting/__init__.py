"""Reports and exports from the viewer: the PDF report as drawn here (hds-predict is handed
this writer), and the export dialogs' background work."""
