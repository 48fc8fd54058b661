"""The people of the grid (issue 22): 网格长, 楼栋长 and 微网格 (:mod:`patrol.people.scope`,
:mod:`patrol.people.microgrids`), volunteer teams, 网格服务专员 and 双报到 members."""
