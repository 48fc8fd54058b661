"""The grid worker in the field: patrols with GPS fixes and visits, the phone's day."""
