"""The case desk (案件工作台): the pages where 社区, 街道 and departments work the closed loop — queues
(:mod:`maps.desk.queues`), the case page and its printable 派遣单 (:mod:`maps.desk.casefile`) — around one frame,
:mod:`maps.desk.common` (header, navigation, the bell, the language switch, shared labels).

Pages render only; their scripts (``maps/static/js/desk/*.js``, ES modules) read the desk API with the logged-in
user's token. Nothing here shows a database id: cases by number (``2026-000123``), places and people by name."""
