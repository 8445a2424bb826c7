"""Errors that are the user's to fix: the CLI prints them as one line, never as a traceback."""


class UserError(Exception):
    """A problem with what the user gave us (a file, an option, a target), stated in one line."""

    exit_code = 2
