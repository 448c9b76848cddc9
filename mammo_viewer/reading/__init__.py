"""The study being read, without widgets: the study and its images, how they hang, what the
reader chose (threshold, overlays, windows) and the controller that keeps them in step.
Imports no other room."""
