"""The one compiled part: the plain-records scanner (dmarc_core/reports/_plainscan.c).

It is optional: where no C compiler is at hand the install goes on without it, and plain.py reads
the same records with its regular expression, slower."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dmarc_core.reports._plainscan", ["dmarc_core/reports/_plainscan.c"], optional=True)])
