"""The schedule file (the only place that knows TOML), the practice library, the shipped word
lists, the schedule's zone.
"""
