"""DNS lookups, the only code that touches the network, and only when asked.

``resolver`` is the one way to DNS (an injectable dnspython resolver, bounded timeouts, results
that say what happened); ``discovery`` finds the DMARC record by RFC 7489 and the RFC 9989
tree walk; ``dkim_keys`` and ``spf`` fetch keys and SPF records; ``sources`` names source IPs
(PTR, origin AS); ``domain_check`` puts it together with findings tied to the root causes.

May import: the standard library, dnspython and the rules. Never report reading, the analysis,
pandas, pyarrow, plotly or streamlit.
"""

#: The nameserver the app and the CLI use when none is given (``ip`` or ``ip:port``). Defined here,
#: where importing it loads no DNS code.
NAMESERVER_ENV = "DMARC_NAMESERVER"
