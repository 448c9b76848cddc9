"""The panels around the views: findings (scores, threshold, lesions), the study browser,
what the model saw, the engine's status, and the docks and menus that lay them out."""
