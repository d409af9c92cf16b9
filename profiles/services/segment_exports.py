"""Note who exported which segment's members: the file carries identifiers of real persons."""

from django.db import transaction

from identity.models import Actor, AuditEntry
from identity.services.audit import record_audit
from profiles.models import Segment


def record_segment_export(*, segment: Segment, actor: Actor, columns: list[str]) -> AuditEntry:
    """Write the audit entry of a member export before the first row leaves the service."""
    with transaction.atomic():
        return record_audit(
            actor=actor, action="segment.export", target=segment.key, after={"columns": columns}
        )
