"""A length is shown one way in the window (image label, decision bar, lesion table)."""

from __future__ import annotations

from workstation.ui.mm_text import mm


def test_a_length_is_rounded_to_a_tenth_half_up_from_its_hundredths() -> None:
    # the stored 16.15 mm (16.1499... in binary) and its drawn end points' 16.1503 mm were shown 16.1 and 16.2
    assert mm(16.15) == mm(16.1503) == "16.2"
    assert (mm(16.14), mm(9.95), mm(0.0), mm(None)) == ("16.1", "10.0", "0.0", "?")
