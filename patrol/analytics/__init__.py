"""Analytics as supervisors ask for them: KPIs (:mod:`~patrol.analytics.kpis` over the periods of
:mod:`~patrol.analytics.periods`), coverage and hotspots in the reader's scope (:mod:`~patrol.analytics.service`)."""
