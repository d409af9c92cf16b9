"""Writes to the identity graph. Each public function is one transaction with its audit entry."""
