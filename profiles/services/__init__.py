"""Writes to events, stats, tags and segments; each public function is one transaction with its
audit entry."""
