"""The acquisition report (analytics.md). To be written."""


def compute(params) -> dict:
    raise NotImplementedError
