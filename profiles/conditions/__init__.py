"""The condition language shared by rule tags and segments (DESIGN.md, "Conditions").

`validate` checks a JSON tree and names the path of every bad node; `compile_condition` turns a
valid tree into one boolean SQL expression over persons; `describe` renders it for humans;
`bounded_statements` runs the compiled statements under a statement timeout.
"""

from profiles.conditions.compiler import compile_condition, matching_persons
from profiles.conditions.describe import describe
from profiles.conditions.limits import bounded_statements, failure_text
from profiles.conditions.validation import ConditionInvalid, check_shape, validate

__all__ = [
    "ConditionInvalid",
    "bounded_statements",
    "check_shape",
    "compile_condition",
    "describe",
    "failure_text",
    "matching_persons",
    "validate",
]
