# Shortcuts; the README's two commands need none of this.
UV ?= python3 -m uv

.PHONY: run test bench bench-quick bench-page fuzz lint

run:
	$(UV) run streamlit run app.py

test:
	$(UV) run pytest

# Full benchmark (about 15 minutes, most of it parsedmarc at 1M records); rewrites BENCHMARKS.md.
bench:
	$(UV) run --extra compare python bench/run.py
	$(UV) run python bench/ingest.py  # the history's ingest: files/s, store size per million records
	$(UV) run python bench/history_store.py bench/out/history-10m.duckdb --records 10000000  # the History page's queries

# A quick look without parsedmarc's slow sizes; does not touch BENCHMARKS.md.
bench-quick:
	$(UV) run python bench/run.py --sizes 1000 10000 100000 --variety 10000 --many 300 --runs 3 --no-write

# The Triage page in Chromium: upload to senders table, and filter reruns (bench/page.py); prints a table.
bench-page:
	$(UV) run python bench/page.py --script-runs 9

# The fuzzers at length: tests/reports/test_fuzz.py (about 20 cases a second; seeds are the case
# numbers) and the plain-records fast path against lxml (tests/reports/test_plain.py, about 40 a second).
fuzz:
	FUZZ_CASES=$${FUZZ_CASES:-50000} FUZZ_CHUNK_CASES=$${FUZZ_CHUNK_CASES:-300} PLAIN_CASES=$${PLAIN_CASES:-40000} \
		$(UV) run pytest tests/reports/test_fuzz.py tests/reports/test_plain.py -q

lint:
	$(UV) run ruff check . && $(UV) run ruff format --check .

