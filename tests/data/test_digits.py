"""The default dataset reads scikit-learn's bundled digits without importing scikit-learn
(a second of start-up), and gets exactly the arrays ``load_digits`` gives."""

import subprocess
import sys

import numpy as np


def test_the_digits_are_exactly_scikit_learns():
    from sklearn.datasets import load_digits

    from framework.data.digits import load_bundled_digits

    images, labels = load_bundled_digits()
    reference = load_digits()
    assert images.dtype == reference.images.dtype and np.array_equal(images, reference.images)
    assert labels.dtype == reference.target.dtype and np.array_equal(labels, reference.target)


def test_loading_the_digits_does_not_import_scikit_learn():
    script = (
        "import sys, numpy as np\n"
        "from framework.data.digits import Digits\n"
        "splits = Digits().load(np.random.default_rng(0))\n"
        "print(len(splits.x_train), 'sklearn' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["1294", "False"]
