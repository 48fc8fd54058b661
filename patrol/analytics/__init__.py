"""Analytics as supervisors ask for them: KPIs, coverage and hotspots in the reader's scope."""
