"""How conditions depend on tags and on the clock: which tags a tree names, whether a rule
reaches itself, which rules change with the date alone."""

from profiles.conditions.grammar import TIME_OPS


def referenced_tags(node) -> set[str]:
    """The tag keys a (valid or not) condition tree mentions."""
    if isinstance(node, dict):
        found = {node["tag"]} if isinstance(node.get("tag"), str) else set()
        for value in node.values():
            found |= referenced_tags(value)
        return found
    if isinstance(node, list):
        return set().union(*(referenced_tags(child) for child in node)) if node else set()
    return set()


def reaches(graph: dict[str, set[str]], *, start: str) -> bool:
    """Tell whether `start` can reach itself through the dependency graph."""
    seen, stack = set(), list(graph.get(start, ()))
    while stack:
        key = stack.pop()
        if key == start:
            return True
        if key not in seen:
            seen.add(key)
            stack.extend(graph.get(key, ()))
    return False


def clock_dependent(rules: dict[str, object], *, manual: set[str]) -> list[str]:
    """Keys of the rules (key -> condition) whose holders can change with the clock alone.

    A condition depends on the date through a `within_days` / `older_than_days` comparison of
    a stats time, an event count in a window, a manual tag (`manual`: its assignments expire),
    or a rule tag that itself depends on the date. Unknown tags and cycles depend on nothing.
    """
    memo: dict[str, bool] = {}

    def tag_depends(key: str, path: frozenset) -> bool:
        if key in manual:
            return True
        if key not in rules or key in path:
            return False
        if key not in memo:
            memo[key] = node_depends(rules[key], path | {key})
        return memo[key]

    def node_depends(node, path: frozenset) -> bool:
        if isinstance(node, list):
            return any(node_depends(child, path) for child in node)
        if not isinstance(node, dict):
            return False
        if "event" in node or node.get("op") in TIME_OPS:
            return True
        if isinstance(node.get("tag"), str) and tag_depends(node["tag"], path):
            return True
        return any(node_depends(child, path) for child in node.values())

    return sorted(key for key in rules if tag_depends(key, frozenset()))
