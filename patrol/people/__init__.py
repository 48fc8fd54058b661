"""The people of the grid around the grid worker: 网格长 and 楼栋长 scopes and 微网格 (:mod:`patrol.people.scope`,
:mod:`patrol.people.microgrids`)."""
