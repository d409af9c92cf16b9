"""The lifecycle report (analytics.md). To be written."""


def compute(params) -> dict:
    raise NotImplementedError


def cell_members(params, cell) -> tuple[str, list]:
    raise NotImplementedError
