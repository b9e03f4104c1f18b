"""A fingerprint of a dataset's arrays: the same arrays give the same digest, changed data
a new one (a tracker records it with each split; two runs on the same data show the same)."""

import hashlib

import numpy as np

#: Arrays up to this size are hashed whole; larger ones by a sample of rows (an MNIST-sized split: about 20 ms, digits: under 1 ms).
FULL_HASH_BYTES = 16 * 2**20
#: Rows hashed, evenly spaced, in a larger array (its shape is hashed too).
SAMPLE_ROWS = 2_000


def digest(*arrays: np.ndarray) -> str:
    """8 hex digits of a BLAKE2 hash over the arrays' dtypes, shapes and bytes (for arrays
    above ``FULL_HASH_BYTES``, over ``SAMPLE_ROWS`` evenly spaced rows): the same arrays give
    the same digest, changed data a new one. MLflow's own digests are 8 hex digits too."""
    hasher = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.asarray(array)
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        if array.nbytes > FULL_HASH_BYTES and len(array) > SAMPLE_ROWS:
            array = array[np.linspace(0, len(array) - 1, SAMPLE_ROWS).astype(np.intp)]
        hasher.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return hasher.hexdigest()[:8]
