"""Decoding films for the screen in separate processes (Qt-free).

The JPEG 2000 decoder holds Python's GIL for the whole film: while a background *thread*
decoded a 3328x4096 film, the UI thread waited 1.1 s; with the film in a decoder process,
5 ms (tests/benchmarks/bench_decoding.py). Other plugins (pillow, gdcm) did not let two
films decode at once in one process either (a one-off check).

A decoder that crashes on a hostile or broken file takes down only its process: the file
is reported and the pool is started again. Where processes cannot be started at all, the
films are decoded in the calling thread, and the log says so.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import pickle
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hds_core.io import MammoImage, breast_mask, chest_wall_on_right, read_image, read_preview
from hds_core.io.dicom import StackReader
from hds_core.io.errors import DecodeError
from hds_core.network_input import NetworkInput

from ..memory import return_large_blocks_to_the_system
from ..pictures.display import ScreenRenderer, breast_box

log = logging.getLogger(__name__)

PIXEL_ORIENTATION_STRIDE = 8  # the chest-wall side is a coarse question: a 1/8 image answers it


@dataclass
class DecodedImage:
    image: MammoImage  # what the screen shows: a reduced level first where the file holds one, later full resolution
    chest_wall_right: bool | None  # read from the pixels when PatientOrientation is missing
    renderer: ScreenRenderer  # first screen rendering already done (and cached)
    thumbnail: np.ndarray | None
    # The network's input level (hds_core.network_input.input_level), read straight from the
    # file: the network sees exactly what it would see from the full decode. None: ``image``.
    model_image: MammoImage | None = None
    # The breast's box in full-image pixels (display.breast_box), which the view fits: found
    # here, once per image, off the UI thread. None: no breast found, the whole image is fitted.
    breast_box: tuple[float, float, float, float] | None = None


def decode(
    path: Path,
    thumbnail_height: int = 96,
    screen_shape: tuple[int, int] | None = None,
    network: NetworkInput | None = None,
) -> DecodedImage:
    """Everything heavy about showing an image first: decoding (the level that fills
    ``screen_shape`` where the file holds levels, else in full), the network's input level,
    window statistics, the first screen rendering, the thumbnail, the chest-wall side if needed."""
    if screen_shape is None and network is None:
        image = read_image(path)
    else:
        image = read_preview(path, screen_shape=screen_shape, network=network)
    model_image = None
    if network is not None and image.level and not image.metadata.is_stack:  # a stack: the engine reads its slabs
        level = network.level(image.metadata.pixel_spacing_mm)
        # Reducing a finer level further is not the same as the file's own level (the decoder
        # clips each level it outputs): the network's level is read from the file itself.
        model_image = image if image.level == level else read_image(path, level=level)
    chest_wall_right = None
    if image.metadata.patient_orientation is None:
        stride = max(1, PIXEL_ORIENTATION_STRIDE >> image.level)
        small = image.model_input()[::stride, ::stride]
        chest_wall_right = chest_wall_on_right(breast_mask(small))
    renderer = ScreenRenderer(image)
    screen = renderer.render(image.default_preset)
    return DecodedImage(
        image,
        chest_wall_right,
        renderer,
        renderer.thumbnail(thumbnail_height),
        model_image,
        breast_box(screen, image.full_shape),
    )


def decode_detail(path: Path, preset=None, user_invert: bool = False) -> DecodedImage:
    """The full-resolution image, after a first look at a reduced level: decoded, and rendered
    with the window on screen (``preset``), so that the viewer only swaps the pixels."""
    image = read_image(path)
    renderer = ScreenRenderer(image)
    if preset is not None:
        renderer.render(preset, user_invert=user_invert)
    return DecodedImage(image, None, renderer, None)


def decode_slice(
    path: Path,
    slice_index: int,
    preset=None,
    user_invert: bool = False,
    slab: tuple[int, bool] = (1, False),
    level: int = 0,
) -> DecodedImage:
    """Slice ``slice_index`` (0-based, spatial order) of a tomosynthesis stack at ``level``, its
    frame alone decoded, rendered with the window on screen (``preset``; None: the slice's own);
    ``slab``: (slices, MIP) around it combined into one image (io.dicom.StackReader.slab)."""
    reader = stack_reader(path)
    count, mip = slab
    image = reader.slice(slice_index, level) if count <= 1 else reader.slab(slice_index, count, mip=mip, level=level)
    renderer = ScreenRenderer(image)
    renderer.render(preset if preset is not None else image.default_preset, user_invert=user_invert)
    return DecodedImage(image, None, renderer, None)


def decode_stack(path: Path, level: int, indices: list[int]) -> list[MammoImage]:
    """Slices ``indices`` (0-based, spatial order) of a stack at ``level`` (the one that fills its
    view): the viewer keeps them and steps through them without the decoder (a 2000 x 2500
    JPEG 2000 slice's 1/4 level decodes in about 50 ms, its full resolution in about 500 ms here)."""
    reader = stack_reader(path)
    slices = [reader.slice(index, level) for index in indices]
    for image in slices:
        image.presets  # noqa: B018 - its windows (percentiles) found here, not on the UI thread at each step
    return slices


_READERS: dict[tuple[str, float], StackReader] = {}  # this process's open stacks (their headers, frame indices)


def stack_reader(path: Path) -> StackReader:
    """The stack at ``path``, its header parsed once per decoder process (and again if the file changed)."""
    key = (str(path), os.stat(path).st_mtime)
    reader = _READERS.get(key)
    if reader is None:
        if len(_READERS) >= 8:
            _READERS.pop(next(iter(_READERS)))
        reader = _READERS[key] = StackReader(Path(path))
    return reader


def _ready() -> int:
    return os.getpid()


# Films travel back through shared memory, not the result pipe: in a one-off timing the pipe
# took 0.13-0.19 s for a 13-Mpixel film's 39 MB, shared memory about 20 ms. The small rest (metadata,
# presets) is pickled; this is our own process talking to us, not a file being loaded.
SHARED_MIN_BYTES = 1 << 20


class _SharingPickler(pickle.Pickler):
    def __init__(self, file, arrays: list):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.arrays, self._ids = arrays, {}

    def persistent_id(self, obj):
        if isinstance(obj, np.ndarray) and obj.nbytes >= SHARED_MIN_BYTES:
            if id(obj) not in self._ids:  # the same array twice stays one array
                self._ids[id(obj)] = len(self.arrays)
                self.arrays.append(obj)
            return self._ids[id(obj)]
        return None


class _SharingUnpickler(pickle.Unpickler):
    def __init__(self, file, arrays: list):
        super().__init__(file)
        self.arrays = arrays

    def persistent_load(self, index):
        return self.arrays[index]


def decode_shared(job, *args) -> tuple[bytes, str | None, list]:
    """In a decoder process: ``job(*args)`` (decode or decode_detail), its large arrays put in
    one shared-memory block."""
    from multiprocessing import shared_memory

    arrays: list[np.ndarray] = []
    buffer = io.BytesIO()
    _SharingPickler(buffer, arrays).dump(job(*args))
    if not arrays:
        return buffer.getvalue(), None, []
    block = shared_memory.SharedMemory(create=True, size=sum(a.nbytes for a in arrays))
    specs, offset = [], 0
    for array in arrays:
        np.ndarray(array.shape, array.dtype, buffer=block.buf, offset=offset)[...] = array
        specs.append((offset, array.shape, array.dtype.str))
        offset += array.nbytes
    name = block.name
    block.close()  # the viewer unlinks it once copied (the resource tracker does if it dies first)
    return buffer.getvalue(), name, specs


def collect_shared(data: bytes, name: str | None, specs: list) -> DecodedImage:
    """In the viewer: copy the arrays out of shared memory, release it, rebuild the result."""
    from multiprocessing import shared_memory

    arrays = []
    if name is not None:
        block = shared_memory.SharedMemory(name=name)
        try:
            arrays = [
                np.ndarray(shape, np.dtype(dtype), buffer=block.buf, offset=offset).copy()
                for offset, shape, dtype in specs
            ]
        finally:
            block.close()
            block.unlink()
    return _SharingUnpickler(io.BytesIO(data), arrays).load()


def _setup_decoder_process(log_files: list[str]) -> None:
    """In each decoder process: the memory setting, and pydicom's decoder messages (whole
    tracebacks) into the viewer's log file, never onto the terminal the viewer started from."""
    from hds_core.io.dicom import silence_pydicom_messages
    from hds_core.text import EscapedFormatter

    return_large_blocks_to_the_system()
    handler = None
    if log_files:
        try:
            handler = logging.FileHandler(log_files[0], encoding="utf-8")
            handler.setFormatter(EscapedFormatter("%(asctime)s %(levelname)s decoder %(name)s: %(message)s"))
            # The C decoders write their complaints straight to file descriptor 2 ("Error with
            # SIZ marker: ..."): in this process that is the log file too, not the terminal
            # (a crash's last words land there as well).
            os.dup2(handler.stream.fileno(), 2)
        except OSError:
            handler = None
    silence_pydicom_messages(handler)


class DecoderPool:
    """Decoder processes. One by default: on the 2-vCPU machine two films side by side took
    2.1 s, one alone 1.2 s (bench_decoding.py), so a second process would make the first film
    come later and the four hardly sooner."""

    def __init__(self, workers: int = 1):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.in_process = False  # True once processes proved impossible here
        self._start()

    def _start(self) -> None:
        try:
            # spawn, not fork: forking a process that runs Qt and torch threads is unsafe.
            log_files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_setup_decoder_process,
                initargs=(log_files[:1],),
            )
            for _ in range(self.workers):
                self._pool.submit(_ready)  # start the processes now, not with the first film
        except (OSError, RuntimeError, NotImplementedError) as exc:
            log.warning("decoder processes unavailable (%s): decoding in the viewer's own process", exc)
            self._pool, self.in_process = None, True

    def submit(
        self,
        path: Path,
        thumbnail_height: int,
        screen_shape: tuple[int, int] | None = None,
        network: NetworkInput | None = None,
    ) -> Future:
        """The first look at ``path`` (``decode``)."""
        return self._submit(decode, path, thumbnail_height, screen_shape, network)

    def submit_detail(self, path: Path, preset=None, user_invert: bool = False) -> Future:
        """``path`` at full resolution, rendered with ``preset`` (``decode_detail``)."""
        return self._submit(decode_detail, path, preset, user_invert)

    def submit_slice(
        self, path: Path, slice_index: int, preset=None, user_invert: bool = False, slab=(1, False), level: int = 0
    ) -> Future:
        """One slice of a stack, or a slab around it (``decode_slice``)."""
        return self._submit(decode_slice, path, slice_index, preset, user_invert, slab, level)

    def submit_stack(self, path: Path, level: int, indices: list[int]) -> Future:
        """Slices of a stack at ``level`` (``decode_stack``)."""
        return self._submit(decode_stack, path, level, indices)

    def _submit(self, job, *args) -> Future:
        if self._pool is not None:
            try:
                return self._collected(self._pool.submit(decode_shared, job, *args))
            except (BrokenProcessPool, RuntimeError):
                self._restart()
                if self._pool is not None:
                    return self._collected(self._pool.submit(decode_shared, job, *args))
        future: Future = Future()
        try:
            future.set_result(job(*args))
        except Exception as exc:  # noqa: BLE001 - delivered like a process's failure
            future.set_exception(exc)
        return future

    @staticmethod
    def _collected(shared: Future) -> Future:
        """A future of the DecodedImage, collected from shared memory as soon as the process
        is done, whether or not anyone still wants it (so no block is left behind)."""
        future: Future = Future()

        def collect(done: Future) -> None:
            if done.cancelled():
                future.cancel()
                return
            try:
                future.set_result(collect_shared(*done.result()))
            except BaseException as exc:  # noqa: BLE001 - delivered to whoever waits
                future.set_exception(exc)

        shared.add_done_callback(collect)
        future.source = shared  # cancel() reaches the process's queue through it
        return future

    def result(self, future: Future, path: Path) -> DecodedImage:
        """The decoded film; a decoder process that died on this file becomes a DecodeError."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._restart()
            raise DecodeError(
                path,
                "the image decoder crashed on this file",
                "the compressed data is damaged; copy the file again from the archive",
            ) from None

    def _restart(self) -> None:
        log.warning("a decoder process died; starting new ones")
        self.shutdown()
        self._start()

    def shutdown(self) -> None:
        """Stop at once: a film being decoded is abandoned (its result is not wanted)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # not public: terminate needs them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(1.0)
        # With its processes gone the pool's manager thread ends at once; joining it lets the
        # pool release its queues' semaphores now, not leave them to the resource tracker
        # (which warned about "leaked semaphore objects" on the terminal at exit).
        pool.shutdown(wait=True)
