"""Load tests and measurements for shield; not part of the test run (see README.md)."""
