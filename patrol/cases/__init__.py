"""The closed case loop.

- :mod:`~patrol.cases.lifecycle` — statuses, the action table and the sets derived from it;
- :mod:`~patrol.cases.authority` — who may read a case and who may take which action (one rule);
- :mod:`~patrol.cases.overdue` — what "overdue" means, in SQL, Python and pandas;
- :mod:`~patrol.cases.service` — creating cases and moving them through the loop (transitions, whistle tasks,
  escalation, revisits); the API's one import for the loop;
- :mod:`~patrol.cases.reads` — case lists, a case as JSON, its timeline, map clusters;
- :mod:`~patrol.cases.tasks` — a user's task list (also the stops of a grid worker's day);
- :mod:`~patrol.cases.places` — input points, locating them in the city, geodesic distances, nearby cases;
- :mod:`~patrol.cases.batch` — batch ingest; :mod:`~patrol.cases.worktime` — working hours and today in the city;
- :mod:`~patrol.cases.categories`, :mod:`~patrol.cases.responsibility`, :mod:`~patrol.cases.routing` — taxonomy,
  responsibility rules, nearest unit by road and a worker's walking route; :mod:`~patrol.cases.photos` and
  :mod:`~patrol.cases.images` — case photos.
"""
