"""Field surveys: inspection checklists, inspections, shops and the residents register."""
