"""Command line: ``python -m dmarc_core align|evaluate|triage|check|message ...``.

Exit status: 0 aligned / DMARC pass / every file read / a usable DMARC record applies;
1 not aligned / DMARC fail or not known / some file refused / no usable DMARC record (or DNS did
not answer); 2 bad input or nothing readable; 4 a ``history --fail-on`` check fired.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from .lookups import NAMESERVER_ENV
from .rules.alignment import check_alignment
from .rules.knowledge import knowledge
from .rules.scenario import scenario_from_params
from .rules.wording import counted

if TYPE_CHECKING:
    from .lookups.domain_check import DomainCheck


def _print_fields(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def _align(args: argparse.Namespace) -> int:
    result = check_alignment(args.from_domain, args.auth_domain, args.mode, args.identifier)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        _print_fields(
            [
                ("From:", f"{result.from_domain} (organizational domain {result.from_organizational_domain})"),
                (
                    f"{args.identifier.upper()}:",
                    f"{result.auth_domain} (organizational domain {result.auth_organizational_domain})",
                ),
                ("Mode:", f"{result.tag}={result.mode} ({'strict' if result.mode == 's' else 'relaxed'})"),
                ("Aligned:", "yes" if result.aligned else "no"),
                ("Why:", result.reason),
            ]
        )
    return 0 if result.aligned else 1


def _evaluate(args: argparse.Namespace) -> int:
    params = {
        "from": args.from_domain,
        "dkim": ",".join(args.dkim),
        "spf": args.spf or "",
        "adkim": args.adkim,
        "aspf": args.aspf,
        "reported_dkim": args.reported_dkim or "",
        "reported_spf": args.reported_spf or "",
        "reason": ",".join(args.reason),
    }
    scenario, problems = scenario_from_params(params)
    if problems:
        raise ValueError(" ".join(problems))
    evaluation = scenario.evaluate()
    diagnosis = evaluation.diagnosis
    if args.json:
        print(
            json.dumps(
                {
                    "verdict": evaluation.verdict,
                    "dmarc_pass": evaluation.dmarc_pass,
                    "summary": evaluation.summary,
                    "identifiers": [
                        {
                            "identifier": r.identifier,
                            "domain": r.domain,
                            "result": r.result,
                            "aligned": r.alignment.aligned,
                            "carries_dmarc": r.carries_dmarc,
                            "explanation": r.explanation,
                        }
                        for r in (*evaluation.dkim, *([evaluation.spf] if evaluation.spf else []))
                    ],
                    "cause": diagnosis.cause,
                    "table_row": diagnosis.table_row,
                    "explanation": diagnosis.explanation,
                    "fix": evaluation.fix,
                    "link": "/?" + scenario.query_string(),
                },
                indent=2,
            )
        )
    else:
        rows = [("Verdict:", f"{evaluation.verdict}: {evaluation.summary}")]
        rows += [(f"{r.identifier.upper()}:", r.explanation) for r in evaluation.dkim]
        if evaluation.spf:
            rows.append(("SPF:", evaluation.spf.explanation))
        row = f"row {diagnosis.table_row} of the quick diagnosis table" if diagnosis.table_row else "no table row"
        rows += [
            ("Cause:", f"{diagnosis.cause} ({row})"),
            ("Why:", diagnosis.explanation),
            ("Fix:", evaluation.fix),
            ("Link:", "/?" + scenario.query_string()),
        ]
        _print_fields(rows)
    return 0 if evaluation.dmarc_pass else 1


def _triage(args: argparse.Namespace) -> int:
    import shlex

    from .analysis import summary
    from .analysis.triage import triage
    from .reports.model import distinct_reports
    from .reports.reading import read_files

    outcomes = read_files([(Path(path).name, Path(path).read_bytes()) for path in args.files])
    for path, outcome in zip(args.files, outcomes, strict=True):
        if [found.name for found in outcome.failure_reports] == [outcome.name]:
            # The file is one failure report: the message check reads it, and it is no refusal.
            command = f"python -m dmarc_core message {shlex.quote(path)}"
            print(f"{outcome.name}: a failure report (one message); check it with: {command}", file=sys.stderr)
            continue
        details = f": {outcome.details}" if outcome.details else ""
        print(
            f"{outcome.name}: {outcome.status}, {counted(outcome.record_count, 'record')}, "
            f"{counted(outcome.messages, 'message')}{details}",
            file=sys.stderr,
        )
    distinct = distinct_reports(report for outcome in outcomes for report in outcome.reports)
    if not distinct.reports:
        raise ValueError("none of the files holds a readable DMARC aggregate report")
    if distinct.note:
        print(distinct.note, file=sys.stderr)
    frame = triage(distinct.reports)
    if args.format == "csv":
        sys.stdout.write(summary.csv_bytes(frame).decode("utf-8"))
    elif args.format in ("html", "link"):
        _share(frame, args)
    elif args.format == "json":
        files = [
            {"file": o.name, "status": o.status, "records": o.record_count, "messages": o.messages, "details": o.details}
            for o in outcomes
        ]
        print(json.dumps({"files": files, **_summary_json(frame)}, indent=2, default=str))
    else:
        _print_summary(frame)
    return 1 if any(outcome.status == "refused" for outcome in outcomes) else 0


def _summary_json(frame) -> dict:
    """The triage's summary as ``triage`` and ``history`` print it with ``--format json``."""
    import pandas as pd

    from .analysis import summary
    from .analysis.triage import exported

    return {
        "headline": {
            key: None if value is pd.NaT else value.isoformat() if isinstance(value, pd.Timestamp) else value
            for key, value in asdict(summary.headline(frame)).items()
        },
        "readiness": [asdict(assessment) for assessment in summary.rollout_readiness(frame)] if len(frame) else [],
        "sources": json.loads(summary.by_source(frame).to_json(orient="records")),
        "records": json.loads(exported(frame).to_json(orient="records", date_format="iso")),
    }


def _print_summary(frame) -> None:
    """The triage's summary for a person: the headline, each domain's rollout step, a row per sender."""
    import pandas as pd

    from .analysis import summary

    figures = summary.headline(frame)
    print(
        f"{counted(figures.messages, 'message')} in {counted(figures.record_count, 'record')} "
        f"of {counted(figures.reports, 'report')}; "
        f"DMARC pass rate {figures.pass_rate:.1%}"
    )
    for assessment in summary.rollout_readiness(frame):
        print(f"{assessment.domain}: p={assessment.policy}, step {assessment.step} of the rollout plan. {assessment.advice}")
        if assessment.next_record:
            print(f"  next record: {assessment.next_record}")
    table = summary.by_source(frame).drop(columns=["explorer_link"])
    table["pass_rate"] = table["pass_rate"].map("{:.0%}".format)
    table["table_row"] = table["table_row"].astype("string").fillna("")  # no row is a blank, not <NA>
    with pd.option_context("display.max_colwidth", 70, "display.width", 250):
        print(table.to_string(index=False))


def _share(frame, args: argparse.Namespace) -> None:
    """The triage to share: as an HTML file, or as the app's link (what did not fit said on stderr)."""
    from .analysis.share import LINK_PATH, SHARE_PARAM, encode, shared_triage
    from .analysis.share_html import share_html

    shared = shared_triage(frame, leave_out_addresses=args.leave_out_addresses)
    app_url = (args.app_url or "").rstrip("/")
    if args.format == "html":
        sys.stdout.write(share_html(shared, app_url or None))
        return
    encoded = encode(shared)
    left_out = encoded.shared.sources_left_out
    if left_out:
        print(f"{left_out:,} senders with the fewest failing messages left out to fit the link", file=sys.stderr)
    print(f"{app_url}{LINK_PATH}?{SHARE_PARAM}={encoded.text}")


def _check(args: argparse.Namespace) -> int:
    from .lookups.domain_check import check_domain
    from .lookups.resolver import make_resolver

    selectors = [selector for given in args.selector for selector in given.split(",")]
    result = check_domain(args.domain, selectors, make_resolver(args.nameserver))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_check(result)
    return 0 if result.record else 1


def _print_check(result: DomainCheck) -> None:
    from .lookups.spf import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS
    from .rules.dmarc_record import explain_tags

    words, applied = knowledge().lookup_statuses, result.dmarc.applied
    rows = [("Domain:", result.domain), ("DNS server:", result.nameservers)]
    rows.append(("DMARC:", f"found at {applied.found_at}" if applied.found_at else words[applied.status]))
    if applied.policy:
        rows.append(("Record:", applied.policy.text))
    if result.policy:
        rows.append(("Applies here:", "=".join(result.policy)))
    for tag in explain_tags(result.record) if result.record else ():
        rows.append((f"  {tag.tag}=", f"{tag.value}: {tag.value_meaning}" if tag.value_meaning else tag.value))
    rows.append(("Org. domain (PSL):", result.dmarc.rfc7489.organizational_domain))
    rows.append(("Org. domain (tree walk):", result.dmarc.tree_walk.organizational_domain or "unknown"))
    rows.append(("SPF:", f"found: {result.spf.record}" if result.spf.record else words[result.spf.status]))
    tree = result.spf_tree
    if tree and tree.root.status == "found":
        over = {True: " (over the limit: permerror)", False: ""}
        at_least = "at least " if tree.truncated else ""
        rows.append(("SPF DNS lookups:", f"{at_least}{tree.dns_lookups} of {MAX_DNS_LOOKUPS}{over[tree.over_limit]}"))
        rows.append(("SPF void lookups:", f"{tree.void_lookups} of {MAX_VOID_LOOKUPS}{over[tree.too_many_void_lookups]}"))
        rows.append(("SPF include tree:", "[DNS lookups in the record] the record"))
        for depth, _via, node in tree.walk():
            answer = node.record or words.get(node.status, node.detail)
            rows.append((f"  {'  ' * depth}{node.domain}", f"[{node.lookups_here}] {answer}"))
    for key in result.shown_keys:
        rows.append((f"DKIM {key.selector}:", f"{words[key.status]}. {key.detail}".strip()))
    if result.absent_common_selectors:
        rows.append(("DKIM, no key:", ", ".join(result.absent_common_selectors)))
    _print_fields(rows)
    for note in result.findings:
        label = f"root cause {note.root_cause}" if note.root_cause else note.severity
        print(f"\n[{label}] {note.title}\n  {note.explanation}\n  Fix: {note.fix}")


def _message(args: argparse.Namespace) -> int:
    from .lookups.resolver import make_resolver
    from .message.check import check_message
    from .message.model import MAX_MESSAGE_BYTES

    lookup = args.lookup or args.nameserver is not None  # naming a DNS server is asking for lookups
    if args.file == "-":
        data, name = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1), "standard input"
    else:
        with open(args.file, "rb") as handle:
            data, name = handle.read(MAX_MESSAGE_BYTES + 1), Path(args.file).name
    result = check_message(data, lookup=lookup, resolver=make_resolver(args.nameserver) if lookup else None, name=name)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print_message(result.to_json())
    return {True: 0, False: 1, None: NO_VERDICT}[result.dmarc_pass]


#: ``message``: no verdict, because it cannot be told (offline, or DNS did not answer) or DMARC
#: does not apply (no record); distinct from 1, the message fails DMARC.
NO_VERDICT = 3


def _print_message(found: dict) -> None:
    if found["from_problem"]:
        verdict = f"no verdict: {knowledge().from_problems[found['from_problem']]}"
    elif not found["dmarc_applies"]:
        verdict = f"DMARC does not apply: {found['policy']['source']}"
    else:
        unknown = "; ".join(found["unknown"]) or "the alignment modes (DNS did not answer)"
        verdict = {True: "DMARC pass", False: "DMARC fail", None: f"not known: {unknown}"}[found["dmarc_pass"]]
    rows = [("From:", found["from_domain"] or f"unusable ({found['from_problem']})"), ("Verdict:", verdict)]
    if found["table_row"] or found["cause"]:
        rows.append(("Cause:", f"{knowledge().findings[found['cause']].title} (table row {found['table_row'] or '-'})"))
        rows += [("Why:", found["explanation"]), ("Fix:", found["fix"])]
    rows.append(("Policy:", f"adkim={found['policy']['adkim']} aspf={found['policy']['aspf']} ({found['policy']['source']})"))
    for signature in found["signatures"]:
        result = f"{signature['result']}, {signature['result_source']}" if signature["result"] else "result not known"
        rows.append(
            (f"DKIM {signature['domain']} s={signature['selector']}:", f"{signature['status']} ({result}). {signature['detail']}")
        )
    spf = found["spf"]
    rows.append(("SPF:", f"{spf['domain'] or '-'}: {spf['result'] or 'not known'} ({spf['source']}). {spf['detail']}".strip()))
    if found["arc"]:
        rows.append(("ARC:", f"{found['arc']['status']}, sealed by {found['arc']['sealed_by']}. {found['arc']['detail']}"))
    rows += [("Disagrees:", disagreement) for disagreement in found["disagreements"]]
    rows += [("Note:", note) for note in found["notes"]]
    if found["explorer_query"]:
        rows.append(("Explorer:", f"?{found['explorer_query']}"))
    _print_fields(rows)


def _fetch(args: argparse.Namespace) -> int:
    import getpass
    import signal
    import threading

    from .history.mailbox import Mailbox, fetch
    from .history.store import open_store, store_path

    # A secret never comes on the command line, where ps and the shell's history would show it.
    password = token = ""
    if args.oauth2_token_env or args.password_env:
        variable = args.oauth2_token_env or args.password_env
        value = os.environ.get(variable, "")
        if not value:
            what = "token" if args.oauth2_token_env else "password"
            raise ValueError(f"${variable} is empty or not set: it should hold the {what}.")
        password, token = ("", value) if args.oauth2_token_env else (value, "")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"IMAP password for {args.user}: ")
    else:
        raise ValueError("No password: name the environment variable holding it (--password-env VAR, or --oauth2-token-env VAR).")
    mailbox = Mailbox(
        args.host, args.user, password=password, oauth2_token=token, port=args.port, folder=args.folder,
        archive=args.archive or "", security="starttls" if args.starttls else "plain" if args.plain else "tls",
        ca_file=args.tls_ca,
    )  # fmt: skip
    stop = threading.Event()
    if args.watch:  # Ctrl-C or a service manager's SIGTERM ends the wait, and the summary is still printed
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())

    def said(done: int, total: int, outcome) -> None:
        print(f"[{done}/{total}] {outcome.line}", file=sys.stderr)

    if args.watch:  # the file is held only while a batch is added, so the History page reads it meanwhile
        summary = fetch(store_path(args.store), mailbox, said, watch=True, stop=stop)
    else:
        with open_store(args.store) as store:
            summary = fetch(store, mailbox, said, stop=stop)
    print(summary.line)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from .history.ingest import BATCH_FILES, IngestOutcome, ingest_files, read_path
    from .history.store import open_store

    total, outcomes = len(args.files), []
    counting = sys.stderr.isatty()

    def said(outcome: IngestOutcome) -> None:
        outcomes.append(outcome)
        count = f"[{len(outcomes)}/{total}] " if counting else ""
        print(f"{count}{outcome.line}", file=sys.stderr, flush=True)

    with open_store(args.store) as store:
        if args.scheduler:
            from .history.scale import ingest_on_cluster

            ingest_on_cluster(store, args.files, args.scheduler, args.parts or f"{store.path}.parts", said)
        else:
            for start in range(0, total, BATCH_FILES):  # a batch at a time: thousands of files never all in memory
                found = [read_path(path) for path in args.files[start : start + BATCH_FILES]]
                for unreadable in (file for file in found if isinstance(file, IngestOutcome)):
                    said(unreadable)
                readable = [file for file in found if not isinstance(file, IngestOutcome)]
                ingest_files(store, readable, lambda _done, _total, outcome: said(outcome))
    held = [outcome for outcome in outcomes if outcome.status in ("added", "already_held")]
    refused = sum(outcome.status == "refused" for outcome in outcomes)
    failure_reports = sum(outcome.status == "failure_report" for outcome in outcomes)
    print(
        f"{counted(total, 'file')}: {counted(sum(o.added for o in held), 'report')} added "
        f"({counted(sum(o.records for o in held), 'record')}, {counted(sum(o.messages for o in held), 'message')}), "
        f"{sum(o.already_held for o in held):,} already held, {counted(refused, 'file')} refused"
        + (f", {failure_reports:,} failure reports (for the message check)" if failure_reports else "")
    )
    if not held:
        raise ValueError("none of the files holds a readable DMARC aggregate report")
    return 1 if refused else 0


#: ``history --fail-on``: a check fired (distinct from 1, a file refused, and 2, an error).
CHECK_FIRED = 4
#: What a fired check lists on stderr at most, one line each.
_ALERT_LINES = 10


def _history(args: argparse.Namespace) -> int:
    from .analysis import summary
    from .analysis.triage import triage
    from .history.alerts import alerts
    from .history.store import open_store

    with open_store(args.store, read_only=True) as store:
        reports = store.reports(args.since)
        fired = alerts(store, args.fail_on, args.since)
    period = f" since {args.since:%Y-%m-%d %H:%M} UTC" if args.since else ""
    frame = triage(reports)
    if args.format == "csv":
        sys.stdout.write(summary.csv_bytes(frame).decode("utf-8"))
    elif args.format == "json":
        since = args.since.isoformat() if args.since else None
        print(json.dumps({"since": since, **_summary_json(frame)}, indent=2, default=str))
    elif reports:
        _print_summary(frame)
    else:
        print(f"No reports in the history{period}.")
    for alert in fired:  # short, for a cron mail: the first few of what each check found
        print(f"{alert.check}: {alert.summary}", file=sys.stderr)
        for found in alert.found[:_ALERT_LINES]:
            print(f"  {found}", file=sys.stderr)
        if len(alert.found) > _ALERT_LINES:
            print(f"  and {len(alert.found) - _ALERT_LINES:,} more", file=sys.stderr)
    return CHECK_FIRED if fired else 0


def _since(text: str):
    """``--since``: a date (2026-11-01, midnight UTC), or days or weeks back from now (7d, 4w)."""
    import datetime as dt

    back = re.fullmatch(r"(\d{1,5})([dw])", text.strip().lower())
    if back:
        days = int(back.group(1)) * (7 if back.group(2) == "w" else 1)
        return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text.strip()), dt.time(), dt.UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2026-11-01) or a time back (7d, 4w)") from None


def _fail_on(text: str):
    from .history.alerts import parse_check

    try:
        return parse_check(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _export(args: argparse.Namespace) -> int:
    from .history.export import export_parquet
    from .history.store import open_store

    with open_store(args.store, read_only=True) as store:
        exported = export_parquet(store, args.parquet)
    print(f"{exported.records:,} records in {exported.files:,} Parquet files under {exported.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dmarc_core", description="Explain DMARC alignment.")
    commands = parser.add_subparsers(dest="command", required=True)

    align = commands.add_parser("align", help="does one authenticated domain align with the From: domain?")
    align.add_argument("from_domain", metavar="FROM", help="From: domain or address")
    align.add_argument("auth_domain", metavar="AUTH", help="DKIM d= domain or SPF MAIL FROM domain")
    align.add_argument("--mode", choices=("r", "s"), default="r", help="r relaxed (default), s strict")
    align.add_argument(
        "--identifier", choices=("dkim", "spf"), default="dkim", help="names the tag in the explanation (adkim/aspf)"
    )
    align.add_argument("--json", action="store_true", help="print the result as JSON")
    align.set_defaults(run=_align)

    evaluate = commands.add_parser("evaluate", help="the DMARC verdict and diagnosis for one message")
    evaluate.add_argument("from_domain", metavar="FROM", help="From: domain or address")
    evaluate.add_argument(
        "--dkim", action="append", default=[], metavar="DOMAIN:RESULT", help="a DKIM signature; repeat for several"
    )
    evaluate.add_argument("--spf", metavar="DOMAIN:RESULT", help="the SPF result for the MAIL FROM domain")
    evaluate.add_argument("--adkim", choices=("r", "s"), default="r")
    evaluate.add_argument("--aspf", choices=("r", "s"), default="r")
    evaluate.add_argument(
        "--reported-dkim", choices=("pass", "fail"), help="a report's policy_evaluated dkim, to reproduce what a receiver decided"
    )
    evaluate.add_argument("--reported-spf", choices=("pass", "fail"), help="a report's policy_evaluated spf, likewise")
    evaluate.add_argument(
        "--reason", action="append", default=[], metavar="TYPE", help="a reason the report gives (forwarded, mailing_list, ...)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    evaluate.set_defaults(run=_evaluate)

    triage = commands.add_parser("triage", help="read aggregate reports and diagnose every record")
    triage.add_argument("files", nargs="+", metavar="FILE", help=".xml, .xml.gz, .zip or .eml reports")
    triage.add_argument(
        "--format",
        choices=("table", "csv", "json", "html", "link"),
        default="table",
        help="table: a summary per sender (default); csv/json: every triaged record; "
        "html: the summary as one self-contained HTML file; link: the app's link that shows the summary",
    )
    triage.add_argument("--leave-out-addresses", action="store_true", help="html/link: leave out source IPs and host names")
    triage.add_argument("--app-url", metavar="URL", help="html/link: the app's address (https://...), for links that open it")
    triage.set_defaults(run=_triage)
    check = commands.add_parser("check", help="look up a domain's DMARC record, DKIM keys and SPF in DNS")
    check.add_argument("domain", metavar="DOMAIN", help="the From: domain (or an address)")
    check.add_argument(
        "--selector",
        action="append",
        default=[],
        metavar="S",
        help="a DKIM selector you expect to have a key (repeat, or comma-separate); common ones are tried too",
    )
    check.add_argument(
        "--nameserver", metavar="IP[:PORT]", help=f"the DNS server to ask (default: ${NAMESERVER_ENV}, else the system's)"
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(run=_check)
    ingest = commands.add_parser("ingest", help="add aggregate reports to the history file (each report once)")
    ingest.add_argument("files", nargs="+", metavar="FILE", help=".xml, .xml.gz, .zip or .eml reports")
    ingest.add_argument("--store", metavar="PATH", help="the history file, made if new (default: $DMARC_STORE)")
    ingest.add_argument(
        "--scheduler", metavar="ADDRESS", help="read the files on this Dask cluster (tcp://host:8786; the scale extra)"
    )
    ingest.add_argument(
        "--parts", metavar="DIR", help="with --scheduler: where the tasks write their Parquet parts (default: STORE.parts)"
    )
    ingest.set_defaults(run=_ingest)
    history = commands.add_parser("history", help="the summary of the history file for a period, as triage gives it")
    history.add_argument("--store", metavar="PATH", help="the history file (default: $DMARC_STORE)")
    history.add_argument(
        "--since", type=_since, metavar="DATE|Nd|Nw", help="reports ending on or after 2026-11-01 (UTC), or 7d, 4w back"
    )
    history.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="as triage's: table (default), csv, json"
    )
    history.add_argument(
        "--fail-on",
        type=_fail_on,
        action="append",
        default=[],
        metavar="CHECK",
        help=f"exit {CHECK_FIRED} with a summary on stderr when it fires: new-failing-sender, new-sender, "
        "pass-rate-below:PERCENT (repeat for several)",
    )
    history.set_defaults(run=_history)
    export = commands.add_parser("export", help="the history file as Parquet, by month and policy domain (Hive layout)")
    export.add_argument("--store", metavar="PATH", help="the history file (default: $DMARC_STORE)")
    export.add_argument("--parquet", metavar="DIR", required=True, help="a new or empty folder to write into")
    export.set_defaults(run=_export)
    message = commands.add_parser(
        "message", help="check one message (headers, .eml or a failure report): DKIM, SPF, ARC, the verdict and its cause"
    )
    message.add_argument("file", metavar="FILE", help="the message file, or - to read standard input")
    message.add_argument("--lookup", action="store_true", help="look keys, SPF and the DMARC record up in DNS (off by default)")
    message.add_argument(
        "--nameserver",
        metavar="IP[:PORT]",
        help=f"the DNS server to ask (implies --lookup; default: ${NAMESERVER_ENV}, else the system's)",
    )
    message.add_argument("--json", action="store_true", help="print the result as JSON")
    message.set_defaults(run=_message)
    message.epilog = (
        f"exit status: 0 DMARC pass, 1 DMARC fail, 2 not a message, {NO_VERDICT} no verdict (not known offline or "
        "without DNS answers, or no DMARC record applies)"
    )
    fetch = commands.add_parser(
        "fetch",
        help="read the report mailbox over IMAP into the history file (each message once; --watch waits for more)",
        allow_abbrev=False,  # --password must not pass for --password-env: no secret goes on the command line
    )
    fetch.add_argument("--store", metavar="PATH", help="the history file (default: $DMARC_STORE)")
    fetch.add_argument("--host", required=True, help="the IMAP server")
    fetch.add_argument("--port", type=int, help="default: 993 with TLS, 143 with --starttls or --plain")
    fetch.add_argument("--user", required=True, help="the account to sign in as")
    secret = fetch.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-env", metavar="VAR", help="the environment variable holding the password (else it is asked for)"
    )
    secret.add_argument(
        "--oauth2-token-env", metavar="VAR", help="the environment variable holding an OAuth2 access token (XOAUTH2)"
    )
    fetch.add_argument("--folder", default="INBOX", help="the folder to read (default: INBOX)")
    fetch.add_argument("--archive", metavar="FOLDER", help="move read messages there (else they stay, their UIDs remembered)")
    security = fetch.add_mutually_exclusive_group()
    security.add_argument("--starttls", action="store_true", help="STARTTLS on the IMAP port instead of implicit TLS")
    security.add_argument("--plain", action="store_true", help="no encryption: only to a loopback address, for tests")
    fetch.add_argument("--tls-ca", metavar="FILE", help="trust the certificate authority in FILE (PEM) instead of the system's")
    fetch.add_argument("--watch", action="store_true", help="then wait for new mail (IDLE) until interrupted")
    fetch.set_defaults(run=_fetch)
    return parser


#: C0 controls but tab and newline, DEL and C1 controls: what can retitle a terminal, clear it or
#: draw links (escape sequences), as a report or a DNS answer may carry them; and the bidirectional
#: controls, which turn the text after them backwards.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``), never acted on."""
    return _CONTROLS.sub(lambda match: _escape(ord(match.group())), text)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class _Escaping:
    """A text stream that writes through ``terminal_safe``."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Tables and messages are for a terminal: always escaped. CSV and JSON keep their data as it is
    # (JSON escapes controls itself) unless they are going to a terminal too.
    machine = getattr(args, "format", "table") in ("csv", "json") or getattr(args, "json", False)
    streams = sys.stdout, sys.stderr
    if not machine or sys.stdout.isatty():
        sys.stdout = _Escaping(sys.stdout)
    sys.stderr = _Escaping(sys.stderr)
    try:
        status = _run(args)
    except BrokenPipeError:  # the reader went away (| head): nothing more to say, and no error
        status = None
    finally:
        sys.stdout, sys.stderr = streams
    if status is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit, into a closed pipe otherwise
        return 0
    return status


def _run(args: argparse.Namespace) -> int:
    try:
        return args.run(args)
    except BrokenPipeError:
        raise
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
