"""Side-by-side visual comparisons (bicubic | model | HR) as PNG, for benches and eval scripts."""
import cv2
import numpy as np

from common.imgio import write_image

_HEADER = 22   # pixels of label strip above each panel


def detail_box(img, size):
    """(y, x, size) of the `size` x `size` window of `img` (BGR or gray uint8) with the most detail.

    Detail = mean absolute Laplacian of the grey image; the window is where it is largest, so a
    comparison crop shows edges and texture rather than flat sky.
    """
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    size = int(min(size, h, w))
    energy = np.abs(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F))
    mean = cv2.boxFilter(energy, -1, (size, size), normalize=True, borderType=cv2.BORDER_CONSTANT)
    half = size // 2
    valid = mean[half:h - size + half + 1, half:w - size + half + 1]   # windows fully inside the image
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(y), int(x), size


def _text_strip(text, width):
    """A white strip ``width`` pixels wide with ``text`` in black (OpenCV's Hershey font: no font file, no
    metadata, the same pixels on every run)."""
    head = np.full((_HEADER, width, 3), 255, np.uint8)
    cv2.putText(head, text, (4, _HEADER - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return head


def compose(panels, labels, box=None, zoom=1, gap=4, caption=None):
    """The panels next to each other with a label above each (what :func:`side_by_side` writes).

    Args:
        panels (list[np.ndarray]): Images of identical shape, BGR uint8 (HW gray allowed).
        labels (list[str]): One label per panel, e.g. 'bicubic 33.67 dB'.
        box (tuple[int, int, int] | None): (y, x, size) crop shown from every panel. Default: None (whole).
        zoom (int): Nearest-neighbour magnification of the crop, to show pixels. Default: 1.
        gap (int): White pixels between panels. Default: 4.
        caption (list[str] | None): Lines of text under the whole row (e.g. how the labels were measured).
            Default: None.

    Returns:
        np.ndarray: The composed BGR uint8 image.
    """
    if len(panels) != len(labels) or not panels:
        raise ValueError(f'side_by_side: {len(panels)} panels but {len(labels)} labels')
    shapes = {p.shape[:2] for p in panels}
    if len(shapes) != 1:
        raise ValueError(f'side_by_side: panels differ in size: {sorted(shapes)}')
    tiles = []
    for img, label in zip(panels, labels):
        img = np.asarray(img)
        if img.dtype != np.uint8:
            raise ValueError(f'side_by_side: panel {label!r} is {img.dtype}, expected uint8')
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if box is not None:
            y, x, size = box
            img = img[y:y + size, x:x + size]
        if zoom > 1:
            img = cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        tiles.append(np.vstack([_text_strip(label, img.shape[1]), img]))
    spacer = np.full((tiles[0].shape[0], gap, 3), 255, np.uint8)
    out = tiles[0]
    for tile in tiles[1:]:
        out = np.hstack([out, spacer, tile])
    for line in caption or ():
        out = np.vstack([out, _text_strip(line, out.shape[1])])
    return out


def side_by_side(panels, labels, path, box=None, zoom=1, gap=4):
    """Write panels (same-size BGR uint8 images) next to each other with a label above each.

    Args:
        panels (list[np.ndarray]): Images of identical shape, BGR uint8 (HW gray allowed).
        labels (list[str]): One label per panel, e.g. 'bicubic 33.67 dB'.
        path (str | Path): PNG to write (atomically).
        box (tuple[int, int, int] | None): (y, x, size) crop shown from every panel. Default: None (whole).
        zoom (int): Nearest-neighbour magnification of the crop, to show pixels. Default: 1.
        gap (int): White pixels between panels. Default: 4.

    Returns:
        np.ndarray: The composed image.
    """
    out = compose(panels, labels, box=box, zoom=zoom, gap=gap)
    write_image(path, out)
    return out


def write_comparison(path, panels, labels, crop=64, zoom=3):
    """Write the most detailed ``crop`` x ``crop`` window of the last panel (the reference) from every panel.

    Panels are cut to the size they share first (a model may return an image a few pixels smaller
    than HR), so the crop shows the same pixels in each.

    Args:
        path (str | Path): PNG to write.
        panels (list[np.ndarray]): BGR uint8 images, e.g. [bicubic, model, HR].
        labels (list[str]): One label per panel.
        crop (int): Side of the window (pixels before zooming). Default: 64.
        zoom (int): Nearest-neighbour magnification. Default: 3.

    Returns:
        np.ndarray: The composed image.
    """
    h = min(p.shape[0] for p in panels)
    w = min(p.shape[1] for p in panels)
    panels = [np.ascontiguousarray(p[:h, :w]) for p in panels]
    return side_by_side(panels, labels, path, box=detail_box(panels[-1], crop), zoom=zoom)
