"""User-facing errors. The CLI prints them without a traceback and exits 2."""


class ExpertuneError(Exception):
    """An error the user can fix; the message names what is wrong and how to fix it."""

    exit_code = 2


class WorkspaceNotFound(ExpertuneError):
    pass


class ConfigError(ExpertuneError):
    pass


class InputError(ExpertuneError):
    """Bad input data (a file, a line, a field)."""


class StaleEditError(ExpertuneError):
    """An update was based on an older version of a record than the one stored."""


class NotFound(ExpertuneError):
    pass
