"""Reading files with errors that name the file."""

__all__ = ["read_file"]


def read_file(reader, path, what, **kwargs):
    """``reader(path, **kwargs)``, with the file named when it cannot be read.

    Readers of EEG and image formats fail on a truncated or corrupt file
    with errors from deep inside a parser (a struct size, a MATLAB key)
    that do not say which file was at fault.
    """
    try:
        return reader(path, **kwargs)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as err:  # any parser error means an unreadable file
        raise ValueError(
            f"Could not read the {what} file {str(path)!r} ({type(err).__name__}: {err}); "
            "is it complete and in the expected format?"
        ) from err
