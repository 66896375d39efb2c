"""HTTP benchmark: the same four endpoints served by fastmango and four reference stacks over one PostgreSQL
database, loaded with wrk. ``python -m tools.bench.http --help``; the results go to tools/bench/RESULTS.md.
"""
