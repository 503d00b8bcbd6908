"""How the explanations, the advice, the pages and the CLI write a count ("1 message", "2,400
messages") and a title within a sentence."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` of ``noun`` in words, the noun plural unless the count is one: ``plural`` if
    given ("address", "addresses"), else the noun and an s."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def within_sentence(title: str) -> str:
    """A title as words inside a sentence: its first letter lower-cased, unless it starts a word
    of capitals ("DKIM", "SPF"), which stays as it is written."""
    first_word = title.split(" ", 1)[0]
    return title if first_word.isupper() and len(first_word) > 1 else title[:1].lower() + title[1:]
