"""Training: hds-train, cross-validation, export and the model card."""
