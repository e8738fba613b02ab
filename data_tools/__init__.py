"""data_tools — loaders, batching and caching for the data sets refsnn studies use.

Only NumPy, SciPy, Pillow, h5py and the standard library; nothing here
imports refsnn, so data flows one way (``data_tools`` -> ``refsnn``).

- :mod:`data_tools.idx`: IDX (MNIST container) reader and writer, gzip or raw.
- :mod:`data_tools.mnist`: MNIST / Fashion-MNIST / MNIST-5k directories.
- :mod:`data_tools.faces`: AT&T (ORL) faces, PGM.
- :mod:`data_tools.netpbm`: strict PGM/PPM parser (faces, GTSRB).
- :mod:`data_tools.cifar`: CIFAR-10/100, binary batches and python batches.
- :mod:`data_tools.safepickle`: the restricted unpickler those use: inert stand-ins for the
  NumPy reconstructors, arrays rebuilt only from bytes the pickle holds.
- :mod:`data_tools.gtsrb`: GTSRB, PPM + CSV annotations.
- :mod:`data_tools.nmnist`: N-MNIST 40-bit event files (read, write, load a directory, bin into frames).
- :mod:`data_tools.dvs`: DVS emulator, N-MNIST-like events from static images (three saccades).
- :mod:`data_tools.augment`: seeded pad-4 random crop + horizontal flip of NCHW batches.
- :mod:`data_tools.batches`: seeded mini-batches, splits, stratified subsets, normalization.
- :mod:`data_tools.cache`: atomic HDF5 cache of preprocessed arrays.
- :mod:`data_tools.h5safe`: HDF5 reads that stay in the file and within its stored bytes.
- :mod:`data_tools.errors`: :class:`DataFormatError`, the one error type of every loader.
"""

from data_tools.augment import crop, hflip, random_crop_flip
from data_tools.batches import (
    as_generator,
    batch_iterator,
    normalize,
    standardize,
    stratified_subset,
    train_val_split,
)
from data_tools.cache import CacheError, cached, fingerprint
from data_tools.cifar import (
    RestrictedUnpickler,
    UnsafePickleError,
    load_cifar10,
    load_cifar100,
    read_cifar_binary,
    read_cifar_pickle,
    safe_load_pickle,
)
from data_tools.dvs import dvs_counts, dvs_events, dvs_frames
from data_tools.errors import DataFormatError
from data_tools.faces import load_att_faces, read_pgm
from data_tools.gtsrb import load_gtsrb, read_gtsrb_csv
from data_tools.idx import IDXFormatError, parse_idx, read_idx, write_idx
from data_tools.mnist import load_fashion_mnist, load_mnist, mnist_files
from data_tools.netpbm import read_netpbm
from data_tools.nmnist import load_nmnist, read_events, to_frames, write_events

__all__ = [
    "DataFormatError",
    "IDXFormatError", "parse_idx", "read_idx", "write_idx",
    "load_mnist", "load_fashion_mnist", "mnist_files",
    "load_att_faces", "read_pgm", "read_netpbm",
    "UnsafePickleError", "RestrictedUnpickler", "safe_load_pickle",
    "read_cifar_binary", "read_cifar_pickle", "load_cifar10", "load_cifar100",
    "load_gtsrb", "read_gtsrb_csv",
    "as_generator", "batch_iterator", "normalize", "standardize",
    "train_val_split", "stratified_subset",
    "CacheError", "cached", "fingerprint",
    "crop", "hflip", "random_crop_flip",
    "load_nmnist", "read_events", "write_events", "to_frames", "dvs_counts", "dvs_frames", "dvs_events",
]
