import os
import warnings

import pytest
import torch

os.environ.setdefault("FINN_BUILD_DIR", "/tmp/qvit_finn_build")
warnings.filterwarnings("ignore", message="fast_hadamard_transform")

# The test suite runs with pytest-xdist on 2 cores: one torch thread per worker.
torch.set_num_threads(1)

# Small configurations used by the model tests: the registered default unless listed here.
SMALL = {
    "binaryvit-224": dict(img_size=32, num_classes=10, embed_dims=(16, 32, 64, 128), depths=(1, 1, 1, 1),
                          num_heads=(1, 1, 2, 2), sr_ratios=(4, 2, 1, 1)),
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
