"""The domain of grid governance, one subpackage per part of the work:

- :mod:`patrol.core` — settings, engines and sessions, migrations, dialect seams, frames, the model, errors, auth;
- :mod:`patrol.city` — the city as data: OSM and layer import, grids drawn and checked, export, read models;
- :mod:`patrol.cases` — the closed case loop: lifecycle, service, batch ingest, working time, categories,
  responsibility, routing, photos;
- :mod:`patrol.field` — patrols, GPS fixes and visits, the phone's day;
- :mod:`patrol.surveys` — checklists, inspections, shops, the residents register;
- :mod:`patrol.plans` — versioned grid plans;
- :mod:`patrol.analytics` — KPIs, coverage and hotspots in the reader's scope;
- :mod:`patrol.publication` — what public surfaces may show;
- :mod:`patrol.simulate` — the demo city and its SIMULATED operations.
"""
