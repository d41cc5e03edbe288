"""Care across levels: the care record, work lists, the citizen view."""
