"""How conditions depend on tags: which tags a tree names, and whether a rule reaches itself."""


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
