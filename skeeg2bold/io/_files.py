"""Reading files with errors that name the file."""

from pathlib import Path

__all__ = ["check_image", "read_file"]


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


_AXES = {3: "x, y, z", 4: "x, y, z, n_volumes"}


def check_image(img, name, ndim):
    """A NIfTI image of ``ndim`` dimensions from a path or an image.

    Loading, the dimension check and dropping a trailing axis of length one
    are nilearn's (:func:`nilearn.image.check_niimg`, lazy: the data stay on
    disk); the errors say which argument or file was at fault.
    """
    from nilearn.exceptions import DimensionError
    from nilearn.image import check_niimg, load_img

    if isinstance(img, (str, Path)):
        path = Path(img)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: no such file {str(path)!r}.")
        img = read_file(load_img, path, name)
    try:
        return check_niimg(img, ensure_ndim=ndim)
    except DimensionError:
        raise ValueError(
            f"{name} must be a {ndim}-D image ({_AXES[ndim]}), got shape {load_img(img).shape}."
        ) from None
    except TypeError:
        raise TypeError(
            f"{name} must be a path or a nibabel image, got {type(img).__name__}."
        ) from None
