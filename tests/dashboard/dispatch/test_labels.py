"""One label table per dispatch word, covering every value the code uses."""
from __future__ import annotations

from dashboard.dispatch import incidents, labels, units
from dashboard.model import CATEGORIES


def test_every_category_status_type_has_a_label():
    assert set(labels.CATEGORY_LABELS) == set(CATEGORIES)
    assert set(labels.INCIDENT_STATUS_LABELS) == set(incidents.STATUSES)
    assert set(labels.UNIT_TYPE_LABELS) == set(units.UNIT_TYPES)
    assert set(labels.UNIT_STATUS_LABELS) == set(units.UNIT_STATUSES)


def test_hazard_reads_the_same_everywhere():
    # the comms picker once said 障碍 while dispatch said 危险
    assert labels.CATEGORY_LABELS["hazard"] == "危险"
