"""How the explanations, the advice, the pages and the CLI write a count: "1 message", "2,400 messages"."""


def counted(count: int, noun: str) -> str:
    """``count`` of ``noun`` in words, the noun plural unless the count is one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
