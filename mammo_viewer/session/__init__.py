"""The reading session: what the main window does as a study is opened, decoded and analysed,
as mixins the window composes (the window itself stays the assembly of rooms below). They
use the window's parts (loader, engine, controller, grid, panels) and import the rooms
below them."""
