"""Evaluation: the metrics a CAD is judged by, per exit and per dataset."""
