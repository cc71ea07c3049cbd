"""parana's exceptions: one base, ``ParanaError``, and subclasses that are
also the built-in exception a Python user expects (``ValueError`` for bad
input, ``FileNotFoundError`` for a missing file). The message is the CLI's
one-line error."""


class ParanaError(Exception):
    """Base of every error parana raises (besides KeyboardInterrupt)."""


class ParanaValueError(ParanaError, ValueError):
    """Bad input: a corrupt or unfitting file, a bad setting."""


class ParanaFileNotFoundError(ParanaError, FileNotFoundError):
    """A file or folder that does not exist."""


class ParanaOSError(ParanaError, OSError):
    """The operating system failed while reading or writing a file."""
