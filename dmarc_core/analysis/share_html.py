"""A shared triage as one self-contained HTML file, to attach to a ticket or an e-mail: inline CSS,
bars drawn with CSS widths, no script (its Content-Security-Policy forbids any), nothing fetched.

Every value is report text until shown otherwise: each is HTML-escaped, and the characters that
could turn the page's own words backwards (bidirectional controls) or that HTML forbids (C0
controls) are shown as U+FFFD.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

from ..rules.knowledge import knowledge
from ..rules.wording import counted
from .share import SharedTriage, SourceRow, about, period

#: No script, no fetch, no form, no frame: only the inline style below and the links a person follows.
_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PASS, _FAIL = "#2da44e", "#cf222e"
_PALETTE = ("#0969da", "#d4a72c", "#cf222e", "#2da44e", "#8250df", "#57606a")

_STYLE = """
:root { color-scheme: light dark; --line: #d0d7de; --muted: #57606a; --card: #f6f8fa; --bar: #e6e9ed; }
@media (prefers-color-scheme: dark) { :root { --line: #30363d; --muted: #8b949e; --card: #161b22; --bar: #30363d; } }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; margin-top: 1.5rem; }
.note { color: var(--muted); margin: .2rem 0; }
.figures { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.figure { border: 1px solid var(--line); border-radius: .5rem; padding: .6rem 1rem; min-width: 10rem; }
.figure span { display: block; color: var(--muted); font-size: .85rem; } .figure strong { font-size: 1.6rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--card); } .number { white-space: nowrap; font-variant-numeric: tabular-nums; } td.number { text-align: right; }
.readiness { border: 1px solid var(--line); border-radius: .5rem; padding: .6rem 1rem; margin: .6rem 0; }
.ready { border-left: .4rem solid #2da44e; } .not-ready { border-left: .4rem solid #d4a72c; }
summary { cursor: pointer; white-space: nowrap; } details code { display: block; min-width: 14rem; }
code { font-size: .85rem; word-break: break-all; background: var(--card); padding: .1rem .3rem; border-radius: .25rem; }
.track { background: var(--bar); border-radius: .2rem; height: .8rem; min-width: 6rem; display: flex; overflow: hidden; }
.track span { display: block; height: 100%; }
.scroll { overflow-x: auto; } .bars td:first-child { width: 40%; } .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem; vertical-align: middle; }
"""


def _text(value: object) -> str:
    return html.escape(_UNSAFE.sub("\ufffd", str(value)))


def share_html(shared: SharedTriage, app_url: str | None = None) -> str:
    """``shared`` as a whole HTML document, in the page's order. With the app's address
    (``app_url``, its root), each sender links to its case in the Explorer and its Domain Check;
    without it, the Explorer's query is shown as text."""
    figures = shared.headline
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>DMARC triage, {_text(period(shared) or 'shared')}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>DMARC report triage</h1>",
        f'<p class="note">{_text(about(shared))}</p>',
        '<div class="figures">',
        _figure("Messages", f"{figures.messages:,}"),
        _figure("DMARC pass rate", f"{figures.pass_rate:.1%}"),
        _figure("Failing messages", f"{figures.failing_messages:,}"),
        _figure("Reports", f"{figures.reports:,}", f"{figures.record_count:,} records"),
        "</div>",
        _sources(shared, app_url),
        _readiness(shared),
        "<h2>Over time and by cause</h2>",
        _causes(shared),
        _pass_rates(shared),
        _failing_senders(shared),
        _days(shared),
        '<p class="note">Made with the DMARC Alignment Explainer. The figures are those of the reports named above; '
        "the reports themselves are not included.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _figure(label: str, value: str, detail: str = "") -> str:
    title = f' title="{_text(detail)}"' if detail else ""
    return f'<div class="figure"{title}><span>{_text(label)}</span><strong>{_text(value)}</strong></div>'


def _sources(shared: SharedTriage, app_url: str | None) -> str:
    """The senders table, its columns in the page's order: what a person acts on first."""
    columns = [
        ("Sender / source", lambda row: _text(row.source)),
        ("Kind", lambda row: _text(knowledge().sender_kind_title(row.sender_kind))),
        ("Failing", lambda row: _number(row.failing)),
        ("Cause", lambda row: _text(_cause_title(row.cause))),
        ("What to do", lambda row: _text(row.fix)),
        ("Explain", lambda row: _explain(row, app_url)),
        ("Messages", lambda row: _number(row.messages)),
        ("DMARC pass", _pass_bar),
        ("From: domain", lambda row: _text(row.header_from)),
        ("Table row", lambda row: _number(row.table_row)),
        ("Receiver's reasons", lambda row: _text(row.reasons)),
        ("Verdict differs", lambda row: _number(row.disagreeing)),
        ("IPs", lambda row: _number(row.ips)),
    ]
    if not shared.addresses_left_out:
        columns.append(("Busiest addresses", lambda row: _text(row.addresses)))
    if shared.enriched:
        columns.append(("Network (AS)", lambda row: _text(row.as_names)))
        if not shared.addresses_left_out:
            columns.append(("Host names (PTR)", lambda row: _text(row.host_names)))
    parts = ["<h2>Senders, the most failing messages first</h2>"]
    if shared.sources_left_out:
        parts.append(f'<p class="note">{shared.sources_left_out:,} more, with the fewest failing messages, left out.</p>')
    parts.append(
        '<div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{_text(name)}</th>" for name, _ in columns)
        + "</tr></thead><tbody>"
    )
    parts += ["<tr>" + "".join(f"<td>{cell(row)}</td>" for _, cell in columns) + "</tr>" for row in shared.sources]
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


def _number(value: int | None) -> str:
    return f'<span class="number">{value:,}</span>' if value is not None else ""


def _cause_title(cause: str) -> str:
    finding = knowledge().findings[cause]
    return f"{finding.title} (row {finding.table_row})" if finding.table_row else finding.title


def _pass_bar(row: SourceRow) -> str:
    if row.pass_rate is None:
        return ""
    return _track([(row.pass_rate, _PASS)], 1.0) + f"{row.pass_rate:.0%}"


def _explain(row: SourceRow, app_url: str | None) -> str:
    if not app_url:
        # No address to link to: the Explorer's path, to put after the app's address, folded away.
        return f"<details><summary>Explorer path</summary><code>/?{_text(row.explorer_link)}</code></details>"
    explorer = f"{app_url}/?{row.explorer_link}"
    check = f"{app_url}/check?{urlencode({'domain': row.header_from})}"
    return (
        f'<a href="{_text(explorer)}" rel="noreferrer">Open in Explorer</a><br>'
        f'<a href="{_text(check)}" rel="noreferrer">Check domain</a>'
    )


def _readiness(shared: SharedTriage) -> str:
    facts = knowledge()
    parts = ["<h2>Ready for a stricter policy?</h2>"]
    if shared.domains_left_out:
        parts.append(
            f'<p class="note">{counted(shared.domains_left_out, "more policy domain")}, with the fewest messages, left out.</p>'
        )
    for assessment in shared.readiness:
        step = facts.rollout_step(assessment.step) if 1 <= assessment.step <= len(facts.rollout_plan) else None
        action = f", <em>{_text(step.action)}</em>" if step else ""
        parts.append(f'<div class="readiness {"ready" if assessment.ready else "not-ready"}">')
        parts.append(
            f"<p><strong>{_text(assessment.domain)}</strong> publishes p={_text(assessment.policy)}: step {assessment.step} of "
            f"{len(facts.rollout_plan)} of the rollout plan{action}</p>"
        )
        parts.append(f"<p>{_text(assessment.advice)}</p>")
        if assessment.next_record:
            parts.append(f'<p class="note">{_text(facts.next_record_note.format(domain=assessment.domain))}</p>')
            parts.append(f"<p><code>{_text(assessment.next_record)}</code></p>")
        if assessment.blockers:
            held = "; ".join(
                f"{source} ({_cause_title(cause).lower() if cause in facts.findings else cause}, {counted(count, 'message')})"
                for source, cause, count in assessment.blockers
            )
            parts.append(f"<p>Holding it back: {_text(held)}</p>")
        parts.append("</div>")
    return "\n".join(parts)


def _track(segments: list[tuple[float, str]], largest: float) -> str:
    """A bar: its parts (value, colour) drawn to the scale of ``largest``."""
    spans = "".join(
        f'<span style="width:{value / largest * 100:.2f}%;background:{_text(color)}"></span>'
        for value, color in segments
        if largest > 0 and value > 0
    )
    return f'<div class="track">{spans}</div>'


def _bars(title: str, rows: list[tuple[str, list[tuple[float, str]], str]], legend: dict[str, str] | None = None) -> str:
    """A chart as a table: a row per label, its bar (parts to one scale) and its figure."""
    largest = max((sum(value for value, _ in segments) for _, segments, _ in rows), default=0)
    lines = [f"<h3>{_text(title)}</h3>"]
    if legend:
        keys = "".join(f'<span style="background:{_text(color)}"></span>{_text(name)}' for name, color in legend.items())
        lines.append(f'<p class="note legend">{keys}</p>')
    lines.append('<table class="bars"><tbody>')
    lines += [
        f'<tr><td>{_text(label)}</td><td>{_track(segments, largest)}</td><td class="number">{_text(figure)}</td></tr>'
        for label, segments, figure in rows
    ]
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _causes(shared: SharedTriage) -> str:
    """As the page: the aligned mail as a figure, the failing mail as a bar per cause."""
    messages = sum(messages for _, messages, _ in shared.causes)
    aligned = sum(messages for cause, messages, _ in shared.causes if cause == "aligned")
    share = f" ({aligned / messages:.1%})" if messages else ""
    colors = knowledge().cause_colors
    rows = [(_cause_title(cause), [(failing, colors[cause])], f"{failing:,}") for cause, _, failing in shared.causes if failing]
    figure = f"<p>Aligned messages (DKIM passes and aligns): <strong>{aligned:,} of {messages:,}</strong>{share}</p>"
    if not rows:
        return figure + "\n<p>No message among these fails DMARC.</p>"
    return figure + "\n" + _bars("Failing messages by cause", sorted(rows, key=lambda row: -row[1][0][0]))


def _pass_rates(shared: SharedTriage) -> str:
    if not shared.pass_rates:
        return "<h3>Pass rate per day</h3>\n<p>The reports carry no usable dates.</p>"
    threshold = knowledge().pass_rate_threshold
    rows = [
        (
            f"{day:%Y-%m-%d}",
            [(rate or 0.0, _PASS if rate is not None and rate >= threshold else _FAIL)],
            f"{_rate(rate)} of {counted(messages, 'message')} (your senders': {_rate(rollout)})",
        )
        for day, messages, rate, rollout in shared.pass_rates
    ]
    legend = {f"at least {threshold:.0%}, the rollout plan's bar for p=reject": _PASS, "below it": _FAIL}
    return _bars("Pass rate per day", rows, legend)


def _rate(rate: float | None) -> str:
    return f"{rate:.1%}" if rate is not None else "none judged"


def _failing_senders(shared: SharedTriage) -> str:
    totals: dict[str, int] = {}
    for _, source, messages in shared.failing_senders:
        totals[source] = totals.get(source, 0) + messages
    if not totals:
        return "<h3>Failing messages per sender</h3>\n<p>No dated report among these records fails DMARC.</p>"
    days = len({day for day, _, _ in shared.failing_senders})
    rows = [(source, [(messages, _FAIL)], f"{messages:,}") for source, messages in totals.items()]
    return _bars(f"Failing messages per sender, over {counted(days, 'day')}", rows)


def _days(shared: SharedTriage) -> str:
    if not shared.days:
        return "<h3>Disposition per day</h3>\n<p>The reports carry no usable dates.</p>"
    dispositions = sorted({disposition for _, disposition, _ in shared.days})
    colors = {disposition: _PALETTE[index % len(_PALETTE)] for index, disposition in enumerate(dispositions)}
    per_day: dict = {}
    for day, disposition, messages in shared.days:
        counts = per_day.setdefault(day, {})
        counts[disposition] = counts.get(disposition, 0) + messages
    rows = [
        (
            f"{day:%Y-%m-%d}",
            [(counts.get(disposition, 0), colors[disposition]) for disposition in dispositions],
            ", ".join(f"{counts[disposition]:,} {disposition}" for disposition in dispositions if disposition in counts),
        )
        for day, counts in sorted(per_day.items())
    ]
    return _bars("Disposition per day", rows, colors)
