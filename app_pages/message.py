"""Message Check: one message's headers (or the whole .eml, or a failure report) read, its DKIM
signatures, SPF and ARC chain verified, and the same explanation as the Explorer."""

import streamlit as st

from dmarc_core import MessageError, check_message, make_resolver
from ui import explain
from ui import message_view as draw
from ui.session import take_message_to_check
from ui.text import inert

state = st.session_state

st.title("Message Check")
st.markdown(
    "Why did this one message fail DMARC? Paste its headers (Gmail: *Show original*; Outlook: *View message "
    "source*; Apple Mail: *View › Message › Raw Source*), or drop the .eml file or a DMARC failure report. "
    "The app reads every DKIM signature, SPF and the ARC chain, and explains the verdict as the Explorer does."
)
st.caption(
    ":material/lock: Nothing is stored: the message stays in this browser session. Its body is used only "
    "to check the DKIM body hash and is never shown. A shared link carries only the domains and results."
)

handed_over = take_message_to_check()  # a failure report opened from the Report Triage
if handed_over:
    state.message_upload_name, state.message_upload = handed_over
    state.message_text = ""

pasted_column, file_column = st.columns([3, 2])
pasted_column.text_area(
    "Headers or the whole message",
    key="message_text",
    height=220,
    placeholder="Delivered-To: you@example.com\nReceived: from …\nAuthentication-Results: mx.example.net; dkim=pass …\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; …\nFrom: Alice <alice@example.com>\n…",
)
dropped = file_column.file_uploader(
    "Or drop an .eml, a .txt of headers, or a failure report", type=["eml", "txt", "msg"], key="message_file"
)
lookup = file_column.toggle(
    "Look up keys, SPF and the DMARC record in DNS",
    key="message_lookup",
    help="Off: nothing leaves this session; signatures are judged by what needs no DNS (expiry, the body hash) "
    "and by what the receiver recorded. On: the DKIM keys, the SPF record and the DMARC record are looked up, "
    "and every signature is verified.",
)

if dropped is not None:
    name, data = dropped.name, dropped.getvalue()
elif state.get("message_text", "").strip():
    name, data = "the pasted text", state.message_text
elif state.get("message_upload"):
    name, data = state.message_upload_name, state.message_upload
    st.caption(f"Checking {inert(name)}, opened from the Report Triage.")
else:
    st.info(
        "Paste a message's headers above or drop its .eml file. To see one first, open a failure report from "
        "the Report Triage, or copy the headers of any message in your mailbox that failed DMARC.",
        icon=":material/arrow_upward:",
    )
    st.stop()

try:
    resolver = make_resolver() if lookup else None
except ValueError as problem:
    st.error(f"**The app's DNS server setting is not usable.** {inert(problem)}", icon=":material/dns:")
    st.stop()
try:
    with st.spinner("Looking up keys, SPF and the DMARC record…" if lookup else "Reading the message…"):
        result = check_message(data, lookup=lookup, resolver=resolver, name=name)
except MessageError as problem:
    st.error(f"**This cannot be checked as a message.** {inert(problem)}", icon=":material/error:")
    st.stop()

draw.verdict(result)
if result.evaluation is not None:
    explain.from_row(result.evaluation)
    explain.cause_and_fix(result.evaluation, result.fix)
    explain.scenario_link(result.scenario(), "Open this case in the Alignment Explorer (identifiers and results only)")
draw.disagreements(result)

st.header("DKIM signatures")
draw.signatures(result)

st.header("SPF")
draw.spf(result)

if result.arc is not None:
    st.header("ARC chain")
    draw.arc(result)

st.header("What the receivers recorded")
draw.receivers(result)

draw.notes(result)
