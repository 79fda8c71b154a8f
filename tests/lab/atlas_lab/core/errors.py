"""The lab's one error type: a message a developer can act on, never a traceback."""

from __future__ import annotations


class LabError(Exception):
    """Something the developer must fix; ``str(error)`` says what and how.

    ``exit_code`` is what the CLI exits with: 2 for a problem with the machine or the input
    (missing binary or package, port in use), 1 for a service that failed to start or stop.
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
