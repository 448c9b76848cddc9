"""The engine's commands that span its floors (``hds-predict``: reading, inference, results
and reports); nothing in the engine imports them."""
