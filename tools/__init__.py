"""The repository's own tooling: benchmarks, code generators, asset vendoring. Not part of the package."""
