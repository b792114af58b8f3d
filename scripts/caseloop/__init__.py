"""caseloop: keep an Amazon seller's support cases moving, from the team's own spreadsheet."""

__version__ = "0.1.0"
