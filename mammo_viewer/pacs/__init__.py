"""The PACS in the viewer: the query/retrieve panel, the nodes dialog and the controller that
opens arriving studies."""
