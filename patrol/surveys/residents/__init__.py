"""The residents register (民情台账): households, residents, their needs, household visits — and who may read them.

Personal data (names, phones, health, disability, needs) are read ONLY by the grid worker of the household's
building's grid and the supervisor of that grid's community. :func:`personal_scope` (SQL) and
:func:`can_read_person` (one building) are the one place that says so; every read and write below goes through
them. Admins, planners and departments see counts (:func:`visits_report`), never people: a register is only as good
as residents' trust that what they tell their grid worker stays with her.

Every read of a record writes :class:`~patrol.core.models.ResidentAudit` rows — one per household and one per resident
whose data were returned — in the caller's transaction, so that a read is logged exactly when it happened (a failed
request leaves neither the read nor the log). Lists mask phones (:func:`mask_phone`); the detail of one household or
resident, and the supervisor's export, show them in full.

Vulnerable residents (重点人员: 80 or older from the birth year, disabled, or living alone) are visited every
``visit_every_days`` or ``settings.vulnerable_visit_days`` days; a household is due when its last visit (a
:class:`~patrol.core.models.HouseholdVisit`) is older than the smallest frequency among its vulnerable residents.

The package, one module per part (the names below are re-exported here for the API, the CLI and the field app):

- :mod:`~patrol.surveys.residents.access`: who may read (scopes), phone masking, the audit log and trail;
- :mod:`~patrol.surveys.residents.register`: labels, vulnerability, visiting standing, the API's dicts;
- :mod:`~patrol.surveys.residents.fields`: the one table of field limits and the input checks;
- :mod:`~patrol.surveys.residents.households`, :mod:`~patrol.surveys.residents.people`,
  :mod:`~patrol.surveys.residents.needs`: the records;
- :mod:`~patrol.surveys.residents.visits`: visits at check-in, households due a visit, the per-grid report;
- :mod:`~patrol.surveys.residents.exchange`: CSV export and import.
"""


from __future__ import annotations

from patrol.surveys.residents.access import (
    AUDIT_ACTIONS,
    CLI_ROLE,
    PERSONAL_ONLY,
    PERSONAL_ROLES,
    audit_trail,
    can_read_person,
    cli_actor,
    local_today,
    mask_phone,
    personal_scope,
)
from patrol.surveys.residents.exchange import (
    EXPORT_COLUMNS,
    EXPORT_ONLY,
    IMPORT_COLUMNS,
    ImportSummary,
    export_csv,
    import_csv,
    import_rows,
    read_csv,
)
from patrol.surveys.residents.fields import (
    FIELD_LIMITS,
    HOUSEHOLD_FIELDS,
    MAX_VISIT_EVERY_DAYS,
    OLDEST_BIRTH_YEAR,
    RESIDENT_FIELDS,
    clean_household,
    clean_need,
    clean_resident,
)
from patrol.surveys.residents.households import (
    create_household,
    delete_household,
    household_detail,
    list_households,
    update_household,
)
from patrol.surveys.residents.needs import (
    add_need,
    list_needs,
    set_need_status,
)
from patrol.surveys.residents.people import (
    add_resident,
    delete_resident,
    get_resident,
    update_resident,
)
from patrol.surveys.residents.register import (
    NEED_LABELS,
    NEED_MOVES,
    NEED_STATUS_LABELS,
    REASON_LABELS,
    Standing,
    need_dict,
    resident_dict,
    standings,
    vulnerability,
)
from patrol.surveys.residents.visits import (
    check_visit_household,
    due_visits,
    record_household_visit,
    visit_register,
    visits_report,
)

__all__ = [
    "AUDIT_ACTIONS", "CLI_ROLE", "EXPORT_COLUMNS", "EXPORT_ONLY", "FIELD_LIMITS", "HOUSEHOLD_FIELDS",
    "IMPORT_COLUMNS", "MAX_VISIT_EVERY_DAYS", "NEED_LABELS", "NEED_MOVES", "NEED_STATUS_LABELS",
    "OLDEST_BIRTH_YEAR", "PERSONAL_ONLY", "PERSONAL_ROLES", "REASON_LABELS", "RESIDENT_FIELDS",
    "ImportSummary", "Standing", "add_need", "add_resident", "audit_trail", "can_read_person",
    "check_visit_household", "clean_household", "clean_need", "clean_resident", "cli_actor",
    "create_household", "delete_household", "delete_resident", "due_visits", "export_csv", "get_resident",
    "household_detail", "import_csv", "import_rows", "list_households", "list_needs", "local_today",
    "mask_phone", "need_dict", "personal_scope", "read_csv", "record_household_visit", "resident_dict",
    "set_need_status", "standings", "update_household", "update_resident", "visit_register", "visits_report",
    "vulnerability",
]
