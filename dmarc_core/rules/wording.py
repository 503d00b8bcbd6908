"""How the explanations, the advice, the pages and the CLI write a count: "1 message", "2,400 messages"."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` of ``noun`` in words, the noun plural unless the count is one: ``plural`` if
    given ("address", "addresses"), else the noun and an s."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
