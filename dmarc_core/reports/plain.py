"""Plain records read without a tree: the fast path for the records of a big report.

Nearly every report writes its records the same plain way: the elements of RFC 7489 Appendix C
without namespace prefixes, attributes, comments, CDATA or character references, and text
without ``<`` or ``&``. That much of XML is a regular language, so one regular expression
recognises it exactly; where it matches, the text of each element is the text between its tags,
as libxml2 would give it, and every field is where the record reader would look for it. Those
records go straight into the reader's ``Columns`` (and are cleaned there like any other).

Anything else (another order of the row's fields, an unknown element, a duplicate field, more
than ``_MAX_RESULTS`` results, text that XML would change) is no plain record: ``read_plain``
then says so and leaves the records to lxml and ``RecordReader``, which remain the reference
the tests compare this path with.

The same grammar is scanned in C (``_plainscan.c``, built by the install where a C compiler is
at hand) about six times faster; the regular expression below (``read_plain_expression``) is its
reference, which the tests compare it with on every input they make, and the path where it was
not built.
"""

from __future__ import annotations

import functools
import re

from lxml import etree

from .records import _MAX_RESULTS, _PENDING, MAX_ELEMENT_BYTES, Columns, RecordReader, cleaned_text

try:
    from ._plainscan import scan
except ImportError:  # installed without a C compiler: the regular expression reads the same, slower
    scan = None

# White space between tags, and an element's text: no markup, no reference, no character XML
# forbids or rewrites (C0 controls, CR, which XML turns into LF, U+FFFE and U+FFFF).
_SPACE = r"[ \t\r\n]*+"
_TEXT = r"[^<&\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]*+"


def _leaf(name: str) -> str:
    """One optional element of text, captured (None when absent, as an empty element reads)."""
    return rf"(?:<{name}>({_TEXT})</{name}>|<{name}/>)?+{_SPACE}"


def _any(names: str) -> str:
    """Elements of text among ``names`` (each closed by its own name), in any order and number."""
    return rf"(?:(?:{'|'.join(rf'<{name}>{_TEXT}</{name}>|<{name}/>' for name in names.split('|'))}){_SPACE})*+"


_ENTRY_FIELDS = "domain|selector|result|scope|human_result"
_RECORD = re.compile(
    rf"<record>{_SPACE}<row>{_SPACE}{_leaf('source_ip')}{_leaf('count')}"
    rf"<policy_evaluated>{_SPACE}{_leaf('disposition')}{_leaf('dkim')}{_leaf('spf')}"
    rf"((?:<reason>{_SPACE}{_any('type|comment')}</reason>{_SPACE})*+)"
    rf"</policy_evaluated>{_SPACE}</row>{_SPACE}"
    rf"<identifiers>{_SPACE}({_any('header_from|envelope_from|envelope_to')})</identifiers>{_SPACE}"
    rf"(?:<auth_results>{_SPACE}((?:(?:<dkim>{_SPACE}{_any(_ENTRY_FIELDS)}</dkim>|<spf>{_SPACE}{_any(_ENTRY_FIELDS)}</spf>){_SPACE})*+)"
    rf"</auth_results>"
    rf"|<auth_results/>){_SPACE}</record>{_SPACE}"
)
#: An element of text: its name, and its text ("" when written <name/>).
_FIELDS = re.compile(rf"<(\w+)(?:>({_TEXT})</\1>|/>)")
#: An auth result whose fields come in the usual order, each at most once: read in one step.
_USUAL_ENTRY = re.compile(
    rf"<(dkim|spf)>{_SPACE}{_leaf('domain')}{_leaf('selector')}{_leaf('scope')}{_leaf('result')}"
    rf"{_any('human_result')}</\1>"
)
_ENTRIES = re.compile(rf"<(dkim|spf)>{_SPACE}({_any(_ENTRY_FIELDS)})</\1>")
#: Identifiers in the usual order, each at most once: read in one step.
_USUAL_IDENTIFIERS = re.compile(f"{_leaf('envelope_to')}{_leaf('envelope_from')}{_leaf('header_from')}")
_FIRST_SPACE = re.compile(_SPACE)


#: Where in ``_PENDING`` each value ``read_plain`` adds goes, in the order it names them.
_ADDED = tuple(
    _PENDING.index(name)
    for name in (
        "source_ip", "count", "disposition", "reported_dkim", "reported_spf", "reason", "reason_comment", "header_from",
        "envelope_from", "envelope_to", "dkim.domain", "dkim.selector", "dkim.result", "dkim.count", "spf.domain",
        "spf.scope", "spf.result", "spf.count",
    )
)  # fmt: skip
#: Characters in one record beyond which it is left to the reader, which stops at an element over
#: ``MAX_ELEMENT_BYTES`` (a character is at most 4 bytes; no real record comes near).
_LONGEST = MAX_ELEMENT_BYTES // 16


class _NotPlain(Exception):
    pass


def _fields(text: str) -> dict[str, str]:
    found = _FIELDS.findall(text)
    fields = dict(found)
    if len(fields) != len(found):
        raise _NotPlain  # a field twice: the reader keeps the first; rare enough to leave to it
    return fields


def _entries(results: str | None) -> list[tuple]:
    """(kind, domain, selector, scope, result) of every <dkim> and <spf> in an <auth_results>."""
    if not results:
        return []
    usual = _USUAL_ENTRY.findall(results)
    if len(usual) == results.count("</dkim>") + results.count("</spf>"):
        return usual
    # Fields in another order (a receiver's own), or one twice: read field by field.
    entries = []
    for kind, entry in _ENTRIES.findall(results):
        fields = _fields(entry)
        entries.append((kind, fields.get("domain"), fields.get("selector"), fields.get("scope"), fields.get("result")))
    return entries


def _joined(values: list[str], separator: str) -> str:
    # As the record reader joins them: empty ones left out, the separator inside one replaced.
    return separator.join(filter(None, (value.replace(separator, "?") for value in values)))


def read_plain(piece: bytes, columns: Columns) -> bool:
    """Append the records of ``piece`` (whole ``<record>`` elements, white space around them) to
    ``columns`` when every one is plain, and say so; otherwise append nothing and return False."""
    if scan is None:
        return read_plain_expression(piece, columns)
    found = scan(piece, _LONGEST, _MAX_RESULTS)
    if found is None:
        return False
    columns.extend(found)  # its lists come in ``_PENDING`` order
    return True


def read_plain_expression(piece: bytes, columns: Columns) -> bool:
    """``read_plain`` by the regular expression: the compiled scanner's reference."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if "]]>" in text:  # XML forbids it in text; libxml2 would report it
        return False
    pending: list[list] = [[] for _ in _PENDING]
    (
        source_ip, count, disposition, reported_dkim, reported_spf, reason, reason_comment, header_from, envelope_from,
        envelope_to, dkim_domain, dkim_selector, dkim_result, dkim_count, spf_domain, spf_scope, spf_result, spf_count,
    ) = [pending[index].append for index in _ADDED]  # fmt: skip
    at = _FIRST_SPACE.match(text).end()
    try:
        for match in _RECORD.finditer(text, at):
            if match.start() != at or match.end() - at > _LONGEST:
                return False  # something that is no plain record lies between two; or a record the reader stops at
            at = match.end()
            ip, messages, evaluated, dkim, spf, reasons, identifiers, results = match.groups()
            source_ip(ip or "")
            count(messages or "")
            disposition(evaluated or "")
            reported_dkim(dkim or "")
            reported_spf(spf or "")
            if reasons:
                pairs = _FIELDS.findall(reasons)
                types = [value for name, value in pairs if name == "type"]
                comments = [value for name, value in pairs if name == "comment"]
                if len(types) > _MAX_RESULTS or len(comments) > _MAX_RESULTS:
                    return False
                reason(_joined(types, ","))
                reason_comment(_joined(comments, "; "))
            else:
                reason("")
                reason_comment("")
            usual = _USUAL_IDENTIFIERS.fullmatch(identifiers)
            if usual:
                to, sender, author = usual.groups()
            else:  # another order, or one twice
                names = _fields(identifiers)
                to, sender, author = names.get("envelope_to"), names.get("envelope_from"), names.get("header_from")
            header_from(author or "")
            envelope_from(sender or "")
            envelope_to(to or "")
            signatures = checks = 0
            for kind, domain, selector, scope, result in _entries(results):
                if kind == "dkim":
                    dkim_domain(domain or "")
                    dkim_selector(selector or "")
                    dkim_result(result or "")
                    signatures += 1
                else:
                    spf_domain(domain or "")
                    spf_scope(scope or "")
                    spf_result(result or "")
                    checks += 1
            if signatures > _MAX_RESULTS or checks > _MAX_RESULTS:
                return False
            dkim_count(signatures)
            spf_count(checks)
    except _NotPlain:
        return False
    if at != len(text):
        return False
    columns.extend(pending)
    return True


# A report's header written the plain way: an XML declaration, the root <feedback> with at most
# namespace declarations and attributes, then <version>, <report_metadata> (elements of text, and
# <date_range> holding elements of text) and <policy_published> (elements of text), in that order,
# each once; text as in records. Nothing may follow but the first record (what ``record_chunks``
# cut the header at).
_HEADER_TEXT = r"[^<&\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]*+"
_HEADER_SPACE = r"[ \t\r\n]*+"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
_HEADER_LEAF = rf"<{_NAME}>{_HEADER_TEXT}</{_NAME}>{_HEADER_SPACE}"
# The XML declaration as XML 1.0 writes it (2.8: version 1.0, then encoding, then standalone):
# libxml2 reports anything else in it, and reading on it would say nothing of the repair.
_DECLARATION = (
    r"<\?xml[ \t\r\n]++version[ \t\r\n]*+=[ \t\r\n]*+(?:\"1\.0\"|'1\.0')"
    r"(?:[ \t\r\n]++encoding[ \t\r\n]*+=[ \t\r\n]*+(?:\"[A-Za-z][A-Za-z0-9._-]*+\"|'[A-Za-z][A-Za-z0-9._-]*+'))?"
    r"(?:[ \t\r\n]++standalone[ \t\r\n]*+=[ \t\r\n]*+(?:\"(?:yes|no)\"|'(?:yes|no)'))?[ \t\r\n]*+\?>"
)
_QUALIFIED_NAME = rf"{_NAME}(?::{_NAME})?"
_HEADER = re.compile(
    rf"\ufeff?{_HEADER_SPACE}(?:{_DECLARATION}{_HEADER_SPACE})?"
    rf"<feedback((?:[ \t\r\n]++{_QUALIFIED_NAME}[ \t\r\n]*+=[ \t\r\n]*+(?:\"[^\"<&]*\"|'[^'<&]*'))*+){_HEADER_SPACE}>{_HEADER_SPACE}"
    rf"(?:<version>({_HEADER_TEXT})</version>{_HEADER_SPACE})?"
    rf"<report_metadata>{_HEADER_SPACE}"
    rf"((?:{_HEADER_LEAF}|<date_range>{_HEADER_SPACE}(?:{_HEADER_LEAF})*+</date_range>{_HEADER_SPACE})*+)</report_metadata>{_HEADER_SPACE}"
    rf"<policy_published>{_HEADER_SPACE}((?:{_HEADER_LEAF})*+)</policy_published>{_HEADER_SPACE}"
)
#: An element of text of the header's sections, closed by its own name; or the start of <date_range>.
_HEADER_FIELD = re.compile(rf"<({_NAME})>({_HEADER_TEXT})</\1>|<(date_range)>")
_ATTRIBUTE = re.compile(rf"({_QUALIFIED_NAME})[ \t\r\n]*=[ \t\r\n]*(?:\"([^\"]*)\"|'([^']*)')")
#: Namespaces no document may declare (Namespaces in XML 1.0, 3): libxml2 reports them.
_RESERVED_NAMESPACES = ("http://www.w3.org/2000/xmlns/", "http://www.w3.org/XML/1998/namespace")


def read_plain_header(header: bytes, reader: RecordReader):
    """The report-level sections of a ``header`` written the plain way, given to ``reader`` as the
    record reader takes them from lxml; and a root element like the document's (its name and
    namespaces), for what is said of the report. None where the header is not plain: lxml then
    reads it, and says what it repaired."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found = _HEADER.fullmatch(text)
    if not found or text.count("<feedback") != 1 or "]]>" in text:  # libxml2 reports "]]>" in text
        return None
    attributes, version, metadata, policy = found.groups()
    root = _root(attributes)
    sections = {
        "report_metadata": _section_fields(metadata, "report_metadata"),
        "policy_published": _section_fields(policy, "policy_published"),
    }
    if root is None or None in sections.values():
        return None
    if version is not None:
        reader.section("version", [("version", cleaned_text(version))])
    for name, fields in sections.items():
        reader.section(name, fields)
    return root


@functools.lru_cache(maxsize=256)
def _root(attributes: str):
    """A <feedback> element with the document root's namespace declarations; None where the root's
    attributes would be damage to libxml2 (one twice, a prefix never declared, an empty or a
    reserved namespace). Kept for the next report with the same attributes (a month of reports has
    a few dozen): it is only read, for its name and namespaces."""
    pairs = [(name.rpartition(":"), first or second) for name, first, second in _ATTRIBUTE.findall(attributes)]
    declarations = [(local if prefix else None, value) for (prefix, _, local), value in pairs if (prefix or local) == "xmlns"]
    namespaces = dict(declarations)
    if len(namespaces) != len(declarations) or any(
        not value or value in _RESERVED_NAMESPACES or prefix in ("xml", "xmlns") for prefix, value in declarations
    ):
        return None
    # Each other attribute once by its namespace and name (two prefixes of one namespace name one
    # attribute), in a namespace declared.
    named = [(namespaces.get(prefix) if prefix else "", local) for (prefix, _, local), _ in pairs if (prefix or local) != "xmlns"]
    if len(set(named)) != len(named) or any(namespace is None for namespace, _ in named):
        return None
    default = namespaces.get(None)
    try:
        return etree.Element(f"{{{default}}}feedback" if default else "feedback", nsmap=namespaces)
    except ValueError:  # a prefix lxml refuses
        return None


def _section_fields(section: str, name: str) -> list[tuple[str, str]] | None:
    """(name, cleaned text) of the section and of every element in it, in document order; None
    where an element is not closed by its own name."""
    fields = [(name, "")]
    for leaf, text, date_range in _HEADER_FIELD.findall(section):
        fields.append(("date_range", "") if date_range else (leaf, cleaned_text(text)))
    # Every end tag is a leaf's or a <date_range>'s: a leaf closed by another name was left out above.
    return fields if len(fields) - 1 == section.count("</") else None
