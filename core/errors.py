"""The base class of PetSeg's expected failures.

Every failure a user can fix (a bad photo, a missing dataset, a damaged model file, a refused
download, conflicting settings) raises a subclass of `PetSegError` whose message names the
problem and the fix. The CLI prints it as one `error: ...` line and exits with status 2; the
dashboard shows it on the page. Anything else is a bug and keeps its traceback.
"""


class PetSegError(Exception):
    """An expected failure; the message says what is wrong and what to do."""
