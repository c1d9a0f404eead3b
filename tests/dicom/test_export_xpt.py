"""Our SAS XPORT v5 files read by an independent reader (pandas.read_sas)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.unit.test_sdtm_known_read import KNOWN_RESULTS, known_read
from workstation.export.sdtm import build_sdtm, write_sdtm


def test_pandas_reads_our_sdtm_transport_files(tmp_path: Path) -> None:
    read = known_read()
    ds = build_sdtm([read], {read.read_id: KNOWN_RESULTS}, study_id="TIL01")
    write_sdtm(ds, tmp_path, study_id="TIL01")
    for name, records in (("tu", ds.tu), ("tr", ds.tr), ("rs", ds.rs)):
        frame = pd.read_sas(tmp_path / f"{name}.xpt", format="xport", encoding="latin-1")
        assert len(frame) == len(records)
        assert list(frame.columns) == list(ds.domains()[name.upper()][0])
    tr = pd.read_sas(tmp_path / "tr.xpt", format="xport", encoding="latin-1")
    sums = tr.loc[tr["TRTESTCD"] == "SUMDIAM", "TRSTRESN"].tolist()
    assert sums == [50.0, 32.0, 16.0]
    # pandas reads an IBM zero (eight zero bytes, as TS-140 writes it) as 16**-65: pandas-dev/pandas#50670.
    assert tr.loc[tr["TRTESTCD"] == "LPERP", "TRSTRESN"].tolist() == pytest.approx([18.0, 12.0, 0.0], abs=1e-70)
    assert set(tr["USUBJID"]) == {"TIL01-S001"}
