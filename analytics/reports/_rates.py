"""The one rule for every rate a report answers (analytics.md, "Common rules")."""


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when the denominator is 0."""
    return None if whole == 0 else round(part / whole, 4)
