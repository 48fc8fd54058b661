"""The HTTP contract in pydantic: query models shared by several routes and the response models that /docs shows.

Request bodies stay next to their routes (each is used by one route) unless the same record also enters through a
CSV importer, in which case the schema lives in patrol (e.g. :mod:`patrol.surveys.schemas`) and both use it."""
