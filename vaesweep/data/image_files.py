"""Images a user brings, read into arrays: .npy / .npz arrays, IDX files, or folders of PNG/JPEG.

``read_image_source(path, labels)`` returns the source's parts: ``all`` when it is one pool of
images (``vaesweep data add`` splits it with a seed), else ``train`` and ``test`` and perhaps
``valid``. Each part holds images [N, C, H, W] with C = 1 or 3, uint8 (0..255) or float32 (in
[0, 1]), and integer labels when the source has them. What is accepted, and how it is read:

- ``.npy``: images [N, H, W], [N, C, H, W] or [N, H, W, C]; labels from ``--labels`` (a .npy
  or IDX file of N integers).
- ``.npz``: arrays ``x`` (and ``y``), or ``train_x``, ``test_x``, optional ``valid_x`` (each
  with an optional ``<split>_y``).
- an IDX file (``read_idx``), labels from ``--labels``; or a directory with the MNIST file
  names (``train-images-idx3-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]`` and their labels).
- a folder of ``.png`` / ``.jpg`` / ``.jpeg`` files, or of class folders holding them (the
  folder names are the labels, in sorted order); or a folder with ``train``, ``test`` and
  optional ``valid`` folders laid out so. All images must have one size; if any is in colour,
  all are read as RGB, else as greyscale.

Values: floats must lie in [0, 1]; integers in 0..255 are intensities out of 255, except that an
integer or boolean array holding only 0 and 1 is read as black and white (0 and 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaesweep.data.corpora import SPLIT_ALIASES
from vaesweep.data.images import MNIST_FILES, read_idx
from vaesweep.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHANNELS = (1, 3)
GREY_MODES = ("1", "L", "LA")
ALL = "all"  # the part name of a source that is one pool of images


@dataclass
class ImagePart:
    x: np.ndarray  # [N, C, H, W], uint8 or float32
    labels: np.ndarray | None  # int64 [N]: the source's own values (re-indexed later)
    where: str  # the file or folder it came from, for messages


def as_images(array: np.ndarray, where: str) -> np.ndarray:
    """[N, C, H, W] uint8 or float32 images from any accepted layout and dtype (see module)."""
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[1] not in CHANNELS and array.shape[3] in CHANNELS:
        array = array.transpose(0, 3, 1, 2)
    if array.ndim != 4 or array.shape[1] not in CHANNELS:
        raise DataError(
            f"{where}: images must be [N, H, W], [N, C, H, W] or [N, H, W, C] with C = 1 or 3, "
            f"found shape {list(array.shape)}"
        )
    if len(array) == 0:
        raise DataError(f"{where}: no images")
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array, dtype=np.float32)
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise DataError(f"{where}: integer intensities must lie in 0..255, found {low}..{high}")
        if high <= 1:
            return np.ascontiguousarray(array, dtype=np.float32)
        return np.ascontiguousarray(array, dtype=np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        low, high = float(np.min(array)), float(np.max(array))
        if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 or high > 1.0:
            raise DataError(
                f"{where}: float intensities must lie in [0, 1], found {low:g}..{high:g} "
                "(divide 0..255 values by 255, or store them as uint8)"
            )
        return np.ascontiguousarray(array, dtype=np.float32)
    raise DataError(f"{where}: images must hold integers or floats, found {array.dtype}")


def as_labels(array: np.ndarray, where: str, count: int, images: str) -> np.ndarray:
    """N integer labels that pair with the N images of ``images``."""
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.number) or not np.all(array == np.round(array)):
        raise DataError(
            f"{where}: labels must be a 1-D array of integers, found {array.dtype} {list(array.shape)}"
        )
    if len(array) != count:
        raise DataError(f"{where}: {len(array)} labels for the {count} images of {images}")
    return array.astype(np.int64)


def _load_array(path: Path) -> np.ndarray:
    """A .npy array, or an IDX file's."""
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from error
    try:
        return read_idx(path)
    except DataError as error:
        raise DataError(
            f"{error}; a single images file is a .npy, .npz or IDX file (a folder holds PNG/JPEG pictures)"
        ) from None


def _part(images: np.ndarray, labels: np.ndarray | None, where: str, labels_where: str) -> ImagePart:
    x = as_images(images, where)
    y = None if labels is None else as_labels(labels, labels_where, len(x), where)
    return ImagePart(x, y, where)


def _read_npz(path: Path) -> dict[str, ImagePart]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from error
    if "x" in arrays:
        return {ALL: _part(arrays["x"], arrays.get("y"), f"{path}:x", f"{path}:y")}
    parts = {}
    for split in ("train", "valid", "test"):
        if f"{split}_x" in arrays:
            where = f"{path}:{split}_x"
            parts[split] = _part(arrays[f"{split}_x"], arrays.get(f"{split}_y"), where, f"{path}:{split}_y")
    if "train" not in parts or "test" not in parts:
        raise DataError(
            f"{path}: expected arrays x (and y), or train_x and test_x (optional valid_x, <split>_y); "
            f"found {sorted(arrays)}"
        )
    return parts


def _images_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_picture(path: Path) -> np.ndarray:
    """One image file as uint8 [H, W] (greyscale) or [H, W, 3]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            converted = image.convert("L" if image.mode in GREY_MODES else "RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error
    return np.asarray(converted, dtype=np.uint8)


def read_image_folder(directory: Path) -> tuple[ImagePart, list[str] | None]:
    """A folder of images, or of class folders of images; returns the part and class names."""
    flat = _images_in(directory)
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir() and _images_in(p))
    if flat and classes:
        raise DataError(
            f"{directory}: holds both images and class folders ({', '.join(classes)}); "
            "put every image in a class folder, or none"
        )
    if not flat and not classes:
        raise DataError(f"{directory}: no {', '.join(IMAGE_SUFFIXES)} images, nor folders of them")
    files = [(path, None) for path in flat] or [
        (path, index) for index, name in enumerate(classes) for path in _images_in(directory / name)
    ]
    pictures = []
    for path, _ in files:
        picture = _read_picture(path)
        first = pictures[0] if pictures else picture
        if picture.shape[:2] != first.shape[:2]:
            height, width = picture.shape[:2]
            raise DataError(
                f"{path}: {width}x{height} pixels, but {files[0][0]} is {first.shape[1]}x{first.shape[0]}; "
                "every image must have the same size"
            )
        pictures.append(picture)
    if any(p.ndim == 3 for p in pictures):
        pictures = [p if p.ndim == 3 else np.repeat(p[:, :, None], 3, axis=2) for p in pictures]
    x = np.stack(pictures)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    labels = np.array([index for _, index in files], dtype=np.int64) if classes else None
    return ImagePart(np.ascontiguousarray(x), labels, str(directory)), classes or None


def _split_folders(directory: Path) -> dict[str, Path]:
    found = {}
    for split, aliases in SPLIT_ALIASES.items():
        for alias in aliases:
            if (directory / alias).is_dir():
                found[split] = directory / alias
                break
    return found


def _read_idx_directory(directory: Path) -> dict[str, ImagePart]:
    parts = {}
    for split, prefix in (("train", "train"), ("test", "test")):
        images = _idx_file(directory, MNIST_FILES[f"{prefix}_images"])
        labels = _idx_file(directory, MNIST_FILES[f"{prefix}_labels"])
        if images is None:
            raise DataError(f"{directory}: missing {MNIST_FILES[f'{prefix}_images']}[.gz]")
        parts[split] = _part(
            read_idx(images), None if labels is None else read_idx(labels), str(images), str(labels)
        )
    return parts


def _idx_file(directory: Path, name: str) -> Path | None:
    return next((p for p in (directory / name, directory / f"{name}.gz") if p.is_file()), None)


def read_image_source(
    path: Path, labels: Path | None = None
) -> tuple[dict[str, ImagePart], list[str] | None]:
    """The parts of an image source (see the module docstring) and its class names, if the
    labels are folder names. ``labels`` pairs with a single .npy or IDX images file only."""
    if labels is not None and (path.is_dir() or path.suffix == ".npz"):
        raise DataError(
            f"--labels {labels}: only for a single .npy or IDX images file; {path} carries its own "
            "labels (npz arrays y / <split>_y, class folders, or the MNIST label files)"
        )
    if path.is_file():
        if path.suffix == ".npz":
            return _read_npz(path), None
        label_array = None if labels is None else _load_array(labels)
        return {ALL: _part(_load_array(path), label_array, str(path), str(labels))}, None
    if _idx_file(path, MNIST_FILES["train_images"]) is not None:
        return _read_idx_directory(path), None
    folders = _split_folders(path)
    if not folders:
        part, classes = read_image_folder(path)
        return {ALL: part}, classes
    if "train" not in folders or "test" not in folders:
        raise DataError(f"{path}: split folders need at least train and test, found {sorted(folders)}")
    read = {split: read_image_folder(folder) for split, folder in folders.items()}
    if len({classes is None for _, classes in read.values()}) > 1:
        raise DataError(f"{path}: some split folders hold class folders and some do not; all or none")
    if next(iter(read.values()))[1] is None:
        return {split: part for split, (part, _) in read.items()}, None
    union = sorted({name for _, classes in read.values() for name in classes or ()})
    for part, classes in read.values():  # class indices into the union of the class names
        part.labels = np.array([union.index(classes[i]) for i in part.labels], dtype=np.int64)
    return {split: part for split, (part, _) in read.items()}, union
