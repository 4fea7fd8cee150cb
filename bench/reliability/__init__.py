"""The reliability harness behind ``make reliability`` (BRIEF §9); see __main__.py."""
