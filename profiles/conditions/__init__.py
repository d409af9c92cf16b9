"""The condition language shared by rule tags and segments (DESIGN.md, "Conditions").

`validate` checks a JSON tree and names the path of every bad node; `compile_condition` turns a
valid tree into one boolean SQL expression over persons; `describe` renders it for humans.
"""

from profiles.conditions.compiler import compile_condition, matching_persons
from profiles.conditions.describe import describe
from profiles.conditions.validation import ConditionInvalid, validate

__all__ = ["ConditionInvalid", "compile_condition", "describe", "matching_persons", "validate"]
