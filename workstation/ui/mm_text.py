"""One way to show a length in the window: to 0.1 mm, halves rounded up, from the value to 0.01 mm.

The image's label, the decision bar and the lesion table showed one diameter as 16.2, 16.1 and 16.1 mm: the label
rounded the length of its drawn end points (16.1503 mm), the others the stored 16.15 mm, which binary floating point
holds as 16.1499... Rounding the hundredths half up gives 16.2 everywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def mm(value: float | None) -> str:
    """``16.15`` and ``16.1503`` -> ``"16.2"``; ``16.14`` -> ``"16.1"``; None (not measured) -> ``"?"``."""
    if value is None:
        return "?"
    hundredths = Decimal(f"{value:.2f}")
    return str(hundredths.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
