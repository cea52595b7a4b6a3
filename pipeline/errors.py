"""The one exception type whose message is meant for the person at the terminal."""


class PipelineError(Exception):
    """A failure with a plain-language explanation; the CLI prints it without a traceback."""
