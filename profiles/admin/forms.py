"""Form pieces shared by the tag and segment admins: condition JSON, service errors on fields."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput

from identity.exceptions import InvalidInput
from profiles.admin.condition_builder import ConditionBuilderWidget
from profiles.conditions import describe
from profiles.conditions.values import is_storable


class ConditionJSONField(forms.JSONField):
    """A condition as indented JSON; no condition is an empty box rather than `null`.

    Text Python's decoder cannot read is an invalid JSON like any other: a number of more than
    4300 digits (ValueError) or nesting deeper than the recursion limit. The box shows a lone
    surrogate it was given as its escape, which the page can encode.
    """

    def to_python(self, value):
        try:
            return super().to_python(value)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": "…"}
            ) from exc

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except (ValueError, RecursionError):
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, InvalidJSONInput):
            return value
        text = json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)
        if not is_storable(text):
            text = json.dumps(value, indent=2, cls=self.encoder)  # every character escaped
        return text


CONDITION_OVERRIDES = {
    models.JSONField: {
        "form_class": ConditionJSONField,
        # The JSON box with the visual builder above it; without JavaScript, the box alone.
        "widget": ConditionBuilderWidget(attrs={"style": "font-family: monospace"}),
    }
}

# What "reads as" shows for no condition (a manual tag, a new form): the admin's own empty
# value. A read-only field would print a returned None as the word "None".
NO_CONDITION = "-"


def condition_text(condition) -> str:
    """Render a condition for people; no condition reads as "-".

    The condition may be the unsaved input of a form with errors: NUL and lone surrogates are
    shown as escapes (a page holding a lone surrogate cannot be encoded).
    """
    if condition is None or condition == "":
        return NO_CONDITION
    text = describe(condition)
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")


class ServiceErrorsOnForm:
    """Show the InvalidInput a service raises while saving on the form, the input kept.

    The admin saves inside one transaction, which the error rolls back. The view then runs once
    more on the same POST, and the form reports the service's errors on the fields they name
    (path of the bad node included), or above the form for fields it does not show.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except InvalidInput as exc:
            if request.method != "POST" or hasattr(request, "service_errors"):
                raise
            request.service_errors = exc.details
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, "service_errors", None)
        if not errors:
            return form_class

        class WithServiceErrors(form_class):
            def clean(self):
                cleaned = super().clean()
                for field, messages in errors.items():
                    self.add_error(field if field in self.fields else None, list(messages))
                return cleaned

        return WithServiceErrors
