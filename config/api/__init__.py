"""The plumbing every API shares: authentication, scopes, error format, parsing, base view.

Domain apps' views build on this package; it builds on identity (API keys, apps, domain errors)
and on nothing above it, so that no domain app imports another's views.
"""
