"""Reading finished logs into tables and figures beside the papers' numbers."""
