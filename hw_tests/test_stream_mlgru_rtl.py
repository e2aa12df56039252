"""StreamMLGRU_rtl beyond its backend case: PE equal to the channels (every beat updates the state the
beat before wrote), and an unsigned candidate type with a wider output and narrower gate codes."""

import numpy as np
import pytest
from backend_cases.stream_mlgru import run_case


@pytest.mark.parametrize("attrs, shape", [
    (dict(PE=6, f_bits=4, inputDataType="UINT4", inputDataType1="INT8", outputDataType="INT8"), (3, 9, 6)),
    (dict(PE=5, f_bits=3, inputDataType="UINT2", inputDataType1="UINT5", outputDataType="INT7"), (3, 6, 2, 5)),
], ids=["pe_eq_channels", "unsigned_candidates"])
def test_stream_mlgru_matches_golden_under_stalls(attrs, shape, tmp_path):
    got, want = run_case(attrs, shape, tmp_path, seed=11)
    assert got.shape == want.shape and np.array_equal(got, want)
