"""History: weeks of reports in one file the user keeps (an embedded DuckDB database), what
comes in from the report mailbox, and the questions a rollout asks of them.

``store`` is the file: versioned schema, migrations forward, each report once (a receiver's
report id is its identity), one transaction per ingested file; ``ingest`` reads files into it;
``queries`` answers the History page and the CLI (pass rate per day and sender, new senders,
before and after a fix, the rollout followed); ``export`` writes Hive-partitioned Parquet;
``mailbox`` fetches report mail over IMAP; ``scale`` maps the ingest over a Dask cluster.

May import: the standard library, duckdb, pyarrow, pandas, numpy, imapclient and dask (the last
only where asked for: an optional extra), the rules, report reading and the analysis. Never
streamlit or plotly.
"""
