"""The closed case loop: lifecycle table, case service, batch ingest, working time, categories, responsibility, routing and dispatch, photos."""
